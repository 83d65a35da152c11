// The Glob tool: file names matching a glob (with `**`), newest first, found by python3 inside
// the sandbox; results that resolve outside /workspace or are denied by policy are dropped.
import { z } from 'zod';
import { resolveToolPath } from './tool-paths.js';
import { toolError, type AgentTool, type ToolContext, type ToolOutcome } from './agent-tool.js';

export const GLOB_MAX_RESULTS = 100;

const GLOB_SCRIPT = `
import glob, os, sys
root, pat = sys.argv[1], sys.argv[2]
os.chdir(root)
out = []
for p in glob.glob(pat, recursive=True):
    full = os.path.normpath(os.path.join(root, p))
    if '/.git/' in full + '/':
        continue
    real = os.path.realpath(full)
    if real != '/workspace' and not real.startswith('/workspace/'):
        continue
    try:
        st = os.lstat(full)
    except OSError:
        continue
    if os.path.isdir(full):
        continue
    out.append((-st.st_mtime, full))
out.sort()
for _, p in out:
    sys.stdout.write(p + '\\n')
`;

export const globInputSchema = z
  .object({
    pattern: z.string().min(1).describe('Glob such as "**/*.ts" or "src/*.js".'),
    path: z.string().optional().describe('Directory to search in. Absent: /workspace.'),
  })
  .strict();

export class GlobTool implements AgentTool<typeof globInputSchema> {
  readonly name = 'Glob';
  readonly description =
    'Finds files by glob pattern ("**/*.js", "src/**/*.ts") in the workspace, newest first.';
  readonly inputSchema = {
    type: 'object' as const,
    properties: {
      pattern: { type: 'string', description: 'The glob pattern to match files against' },
      path: { type: 'string', description: 'The directory to search in (default: workspace)' },
    },
    required: ['pattern'],
    additionalProperties: false,
  };
  readonly schema = globInputSchema;

  async run(input: z.infer<typeof globInputSchema>, ctx: ToolContext): Promise<ToolOutcome> {
    const root = resolveToolPath(input.path ?? '.');
    let pattern = input.pattern;
    if (pattern.startsWith('/')) {
      const abs = resolveToolPath(pattern);
      pattern = abs.slice(root.length + 1);
      if (!abs.startsWith(`${root}/`)) return toolError(`pattern must be inside ${root}`);
    }
    if (pattern.split('/').includes('..')) return toolError('pattern must not contain ".."');
    const r = await ctx.sandbox.exec(['python3', '-c', GLOB_SCRIPT, root, pattern], {
      timeoutMs: ctx.execTimeoutMs,
      signal: ctx.signal,
    });
    if (r.exitCode !== 0)
      return toolError(`Glob failed: ${r.stderr.trim().split('\n').at(-1) ?? ''}`);
    const files = r.stdout
      .split('\n')
      .filter((f) => f !== '' && !ctx.isPathDenied('Glob', f) && !ctx.isPathDenied('Read', f));
    if (files.length === 0) return { content: 'No files found', isError: false };
    const shown = files.slice(0, GLOB_MAX_RESULTS).join('\n');
    return {
      content:
        files.length > GLOB_MAX_RESULTS
          ? `${shown}\n(${files.length - GLOB_MAX_RESULTS} more files not shown; narrow the pattern)`
          : shown,
      isError: false,
    };
  }
}
