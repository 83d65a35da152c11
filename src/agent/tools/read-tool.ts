// The Read tool: a workspace file through the sandbox's own file op (links out refused), shown
// with numbered lines like `cat -n`, a line range (offset/limit) and a size cap.
import { z } from 'zod';
import { describeFileError } from './file-errors.js';
import { resolveToolPath } from './tool-paths.js';
import { toolError, type AgentTool, type ToolContext, type ToolOutcome } from './agent-tool.js';

/** Whole-file reads above this need offset/limit: 256 KiB (Claude Code's limit). */
export const READ_MAX_BYTES = 256 * 1024;
/** Hard cap on bytes fetched from the sandbox for ranged reads: 10 MiB. */
export const READ_RANGED_MAX_BYTES = 10 * 1024 * 1024;
export const READ_DEFAULT_LINES = 2000;
export const READ_MAX_LINE_CHARS = 2000;

export const readInputSchema = z
  .object({
    file_path: z.string().min(1).describe('Path of the file (relative to /workspace or absolute).'),
    offset: z.number().int().positive().optional().describe('1-based first line to read.'),
    limit: z.number().int().positive().optional().describe('Number of lines to read.'),
  })
  .strict();

export class ReadTool implements AgentTool<typeof readInputSchema> {
  readonly name = 'Read';
  readonly description =
    'Reads a file in the workspace. Returns numbered lines (cat -n format), at most 2000 lines from offset; files over 256 KiB need offset and limit.';
  readonly inputSchema = {
    type: 'object' as const,
    properties: {
      file_path: { type: 'string', description: 'The path of the file to read' },
      offset: { type: 'number', description: 'The line number to start reading from (1-based)' },
      limit: { type: 'number', description: 'The number of lines to read' },
    },
    required: ['file_path'],
    additionalProperties: false,
  };
  readonly schema = readInputSchema;

  async run(input: z.infer<typeof readInputSchema>, ctx: ToolContext): Promise<ToolOutcome> {
    const path = resolveToolPath(input.file_path);
    if (ctx.isPathDenied('Read', path))
      return toolError(`Read denied by policy: ${input.file_path}`);
    const ranged = input.offset !== undefined || input.limit !== undefined;
    const cap = ranged ? READ_RANGED_MAX_BYTES : READ_MAX_BYTES;
    let data: Buffer;
    try {
      data = await ctx.sandbox.readFile(path, { maxBytes: cap + 1, signal: ctx.signal });
    } catch (err) {
      return toolError(describeFileError('read', input.file_path, err));
    }
    if (data.length > cap) {
      return toolError(
        ranged
          ? `File is larger than ${cap} bytes; only ranged reads within the first ${cap} bytes are possible.`
          : `File is larger than ${cap} bytes (${READ_MAX_BYTES / 1024} KiB cap); read it in parts with offset and limit.`,
      );
    }
    if (data.includes(0)) return toolError(`${input.file_path} looks like a binary file`);
    const lines = data.toString('utf8').split('\n');
    if (lines.length > 1 && lines.at(-1) === '') lines.pop();
    const start = (input.offset ?? 1) - 1;
    const count = input.limit ?? READ_DEFAULT_LINES;
    const slice = lines.slice(start, start + count);
    if (slice.length === 0) {
      return {
        content: `(file has ${lines.length} lines; nothing at offset ${start + 1})`,
        isError: false,
      };
    }
    const body = slice
      .map((line, i) => {
        const text =
          line.length > READ_MAX_LINE_CHARS ? `${line.slice(0, READ_MAX_LINE_CHARS)}…` : line;
        return `${String(start + i + 1).padStart(6)}\t${text}`;
      })
      .join('\n');
    const rest = lines.length - (start + slice.length);
    return {
      content: rest > 0 ? `${body}\n(${rest} more lines; use offset to read on)` : body,
      isError: false,
    };
  }
}
