// The Edit tool: exact string replacement in a workspace file — the match must be unique unless
// replace_all; read and written through the sandbox's file ops, protected paths refused.
import { z } from 'zod';
import { describeFileError } from './file-errors.js';
import { protectedPathReason, resolveToolPath } from './tool-paths.js';
import { WRITE_MAX_BYTES } from './write-tool.js';
import { toolError, type AgentTool, type ToolContext, type ToolOutcome } from './agent-tool.js';

export const editInputSchema = z
  .object({
    file_path: z.string().min(1).describe('Path of the file to edit.'),
    old_string: z.string().min(1).describe('Exact text to replace.'),
    new_string: z.string().describe('Replacement text.'),
    replace_all: z.boolean().optional().describe('Replace every occurrence. Absent: false.'),
  })
  .strict();

function countOccurrences(text: string, needle: string): number {
  let n = 0;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + needle.length))
    n += 1;
  return n;
}

export class EditTool implements AgentTool<typeof editInputSchema> {
  readonly name = 'Edit';
  readonly description =
    'Replaces old_string with new_string in a workspace file. old_string must match exactly and be unique unless replace_all is true.';
  readonly inputSchema = {
    type: 'object' as const,
    properties: {
      file_path: { type: 'string', description: 'The path of the file to modify' },
      old_string: { type: 'string', description: 'The text to replace' },
      new_string: { type: 'string', description: 'The text to replace it with' },
      replace_all: { type: 'boolean', description: 'Replace all occurrences (default false)' },
    },
    required: ['file_path', 'old_string', 'new_string'],
    additionalProperties: false,
  };
  readonly schema = editInputSchema;

  async run(input: z.infer<typeof editInputSchema>, ctx: ToolContext): Promise<ToolOutcome> {
    const path = resolveToolPath(input.file_path);
    const reason = protectedPathReason(path);
    if (reason !== undefined) return toolError(`Refused: ${reason}`);
    if (input.old_string === input.new_string) {
      return toolError('old_string and new_string are the same; nothing to change');
    }
    let text: string;
    try {
      text = (
        await ctx.sandbox.readFile(path, { maxBytes: WRITE_MAX_BYTES, signal: ctx.signal })
      ).toString('utf8');
    } catch (err) {
      return toolError(describeFileError('read', input.file_path, err));
    }
    const found = countOccurrences(text, input.old_string);
    if (found === 0) return toolError(`old_string not found in ${input.file_path}`);
    if (found > 1 && input.replace_all !== true) {
      return toolError(
        `old_string occurs ${found} times in ${input.file_path}; give more context to make it unique or set replace_all`,
      );
    }
    const updated =
      input.replace_all === true
        ? text.split(input.old_string).join(input.new_string)
        : text.replace(input.old_string, () => input.new_string);
    try {
      await ctx.sandbox.writeFile(path, updated, { signal: ctx.signal });
    } catch (err) {
      return toolError(describeFileError('write', input.file_path, err));
    }
    return {
      content: `Edited ${input.file_path}: ${input.replace_all === true ? found : 1} replacement(s)`,
      isError: false,
    };
  }
}
