// The Grep tool: extended-regex search with GNU grep inside the sandbox (symlinks not followed,
// .git skipped), include globs, context lines and Claude Code's three output modes.
import { z } from 'zod';
import { resolveToolPath } from './tool-paths.js';
import { toolError, type AgentTool, type ToolContext, type ToolOutcome } from './agent-tool.js';

export const GREP_MAX_LINES = 500;

export const grepInputSchema = z
  .object({
    pattern: z.string().min(1).describe('Extended regular expression.'),
    path: z.string().optional().describe('File or directory to search. Absent: /workspace.'),
    glob: z
      .string()
      .optional()
      .describe('Only files matching this glob, e.g. "*.ts" or "*.{js,ts}".'),
    '-i': z.boolean().optional().describe('Case-insensitive.'),
    '-n': z.boolean().optional().describe('Line numbers (content mode). Absent: true.'),
    '-C': z.number().int().min(0).max(50).optional().describe('Context lines (content mode).'),
    output_mode: z
      .enum(['content', 'files_with_matches', 'count'])
      .optional()
      .describe('Absent: files_with_matches.'),
  })
  .strict();

/** `*.{js,ts}` → [`*.js`, `*.ts`] (one level of braces, as --include has none). */
export function expandBraces(glob: string): string[] {
  const m = /^(.*?)\{([^{}]*)\}(.*)$/.exec(glob);
  if (!m) return [glob];
  return (m[2] ?? '').split(',').flatMap((alt) => expandBraces(`${m[1] ?? ''}${alt}${m[3] ?? ''}`));
}

export class GrepTool implements AgentTool<typeof grepInputSchema> {
  readonly name = 'Grep';
  readonly description =
    'Searches file contents with a regular expression (grep -E) in the workspace. output_mode: files_with_matches (default), content (with -n, -C) or count; glob filters files.';
  readonly inputSchema = {
    type: 'object' as const,
    properties: {
      pattern: { type: 'string', description: 'The regular expression to search for' },
      path: { type: 'string', description: 'File or directory to search (default: workspace)' },
      glob: { type: 'string', description: 'Glob to filter files, e.g. "*.js"' },
      '-i': { type: 'boolean', description: 'Case insensitive search' },
      '-n': { type: 'boolean', description: 'Show line numbers (content mode)' },
      '-C': { type: 'number', description: 'Lines of context around each match (content mode)' },
      output_mode: { type: 'string', enum: ['content', 'files_with_matches', 'count'] },
    },
    required: ['pattern'],
    additionalProperties: false,
  };
  readonly schema = grepInputSchema;

  async run(input: z.infer<typeof grepInputSchema>, ctx: ToolContext): Promise<ToolOutcome> {
    const root = resolveToolPath(input.path ?? '.');
    const mode = input.output_mode ?? 'files_with_matches';
    const argv = ['grep', '-r', '-E', '-I', '-Z', '--exclude-dir=.git', '--color=never'];
    if (input['-i'] === true) argv.push('-i');
    if (mode === 'files_with_matches') argv.push('-l');
    else if (mode === 'count') argv.push('-c');
    else {
      if (input['-n'] !== false) argv.push('-n');
      if (input['-C'] !== undefined) argv.push(`-C${input['-C']}`);
    }
    for (const g of input.glob === undefined ? [] : expandBraces(input.glob))
      argv.push(`--include=${g}`);
    argv.push('--', input.pattern, root);
    const r = await ctx.sandbox.exec(argv, { timeoutMs: ctx.execTimeoutMs, signal: ctx.signal });
    if (r.exitCode > 1) return toolError(`Grep failed: ${r.stderr.trim()}`, r.exitCode);
    const lines: string[] = [];
    // -l -Z ends each name with NUL instead of a newline; other modes put NUL after the name.
    const records =
      mode === 'files_with_matches'
        ? r.stdout.split('\0').map((f) => `${f}\0`)
        : r.stdout.split('\n');
    for (const raw of records) {
      if (raw === '' || raw === '\0') continue;
      const nul = raw.indexOf('\0');
      if (nul < 0) {
        if (mode === 'content') lines.push(raw); // "--" group separators
        continue;
      }
      const file = raw.slice(0, nul);
      const rest = raw.slice(nul + 1);
      if (ctx.isPathDenied('Grep', file) || ctx.isPathDenied('Read', file)) continue;
      if (mode === 'files_with_matches') lines.push(file);
      else if (mode === 'count') {
        if (rest !== '0') lines.push(`${file}:${rest}`);
      } else lines.push(`${file}:${rest}`);
    }
    if (lines.length === 0 || lines.every((l) => l === '--'))
      return { content: 'No matches found', isError: false };
    const shown = lines.slice(0, GREP_MAX_LINES).join('\n');
    return {
      content:
        lines.length > GREP_MAX_LINES
          ? `${shown}\n(${lines.length - GREP_MAX_LINES} more lines not shown)`
          : shown,
      isError: false,
    };
  }
}
