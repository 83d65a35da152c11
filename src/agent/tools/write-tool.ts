// The Write tool: creates or replaces a workspace file through the sandbox's file op (O_NOFOLLOW,
// parent resolved inside the sandbox); persistence paths (.git/hooks, rc files...) are refused.
import { posix } from 'node:path';
import { z } from 'zod';
import { describeFileError } from './file-errors.js';
import { protectedPathReason, resolveToolPath } from './tool-paths.js';
import { toolError, type AgentTool, type ToolContext, type ToolOutcome } from './agent-tool.js';
import { SANDBOX_WORKSPACE } from '../../sandbox/workspace-path.js';

/** Largest file Write accepts: 5 MiB. */
export const WRITE_MAX_BYTES = 5 * 1024 * 1024;

export const writeInputSchema = z
  .object({
    file_path: z.string().min(1).describe('Path of the file to write.'),
    content: z.string().describe('The whole new content.'),
  })
  .strict();

/** Checks a write target and creates its parent directory inside the sandbox. */
export async function prepareWrite(
  filePath: string,
  ctx: ToolContext,
): Promise<{ path: string } | ToolOutcome> {
  const path = resolveToolPath(filePath);
  if (path === SANDBOX_WORKSPACE) return toolError('Cannot write the workspace directory itself');
  const reason = protectedPathReason(path);
  if (reason !== undefined) return toolError(`Refused: ${reason}`);
  const parent = posix.dirname(path);
  if (parent !== SANDBOX_WORKSPACE) {
    const r = await ctx.sandbox.exec(['mkdir', '-p', '--', parent], {
      timeoutMs: 10_000,
      signal: ctx.signal,
    });
    if (r.exitCode !== 0) return toolError(`Cannot create ${parent}: ${r.stderr.trim()}`);
  }
  return { path };
}

export class WriteTool implements AgentTool<typeof writeInputSchema> {
  readonly name = 'Write';
  readonly description =
    'Writes a file in the workspace, replacing it if it exists. Parent directories are created.';
  readonly inputSchema = {
    type: 'object' as const,
    properties: {
      file_path: { type: 'string', description: 'The path of the file to write' },
      content: { type: 'string', description: 'The content to write to the file' },
    },
    required: ['file_path', 'content'],
    additionalProperties: false,
  };
  readonly schema = writeInputSchema;

  async run(input: z.infer<typeof writeInputSchema>, ctx: ToolContext): Promise<ToolOutcome> {
    const bytes = Buffer.byteLength(input.content);
    if (bytes > WRITE_MAX_BYTES)
      return toolError(`Content is ${bytes} bytes; the cap is ${WRITE_MAX_BYTES}`);
    const target = await prepareWrite(input.file_path, ctx);
    if (!('path' in target)) return target;
    try {
      await ctx.sandbox.writeFile(target.path, input.content, { signal: ctx.signal });
    } catch (err) {
      return toolError(describeFileError('write', input.file_path, err));
    }
    return { content: `Wrote ${bytes} bytes to ${input.file_path}`, isError: false };
  }
}
