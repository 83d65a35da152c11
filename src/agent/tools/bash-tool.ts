// The Bash tool: each command runs as `bash -c` inside the sandbox with a preamble that restores
// the cwd and exported env saved by the previous call (a state dir under the sandbox's /tmp).
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { z } from 'zod';
import { SANDBOX_WORKSPACE } from '../../sandbox/workspace-path.js';
import type { AgentTool, ToolOutcome } from './agent-tool.js';

/** Longest per-call timeout a model may ask for: 10 minutes (Claude Code's cap). */
export const MAX_BASH_TIMEOUT_MS = 600_000;

const STATE_DIR = '/tmp/.ringfence-shell';
/** Last line of a completely written env file. */
const ENV_END = '# ringfence-env-end';

// $1 is the command; __RF_MARK (random per tool instance) tags the trailing cwd line on stderr.
// Builtins only on the usual path (no mkdir/cat/grep/mv/$(...) per call): each fork+exec in the
// sandbox costs about a millisecond. The env file ends with a sentinel line and is only
// restored when complete, which replaces the former write-then-mv for torn writes.
const PREAMBLE = `
__rf_dir=${STATE_DIR}
[ -d "$__rf_dir" ] || mkdir -p "$__rf_dir" 2>/dev/null
if [ -f "$__rf_dir/env" ]; then
  IFS= read -r -d '' __rf_env < "$__rf_dir/env"
  case $__rf_env in *$'\\n${ENV_END}\\n') eval "$__rf_env" >/dev/null 2>&1 ;; esac
  unset __rf_env
fi
if [ -f "$__rf_dir/cwd" ]; then
  IFS= read -r -d '' __rf_cwd < "$__rf_dir/cwd"
  cd -- "\${__rf_cwd%$'\\n'}" 2>/dev/null || cd /workspace
  unset __rf_cwd
fi
__rf_save() {
  __rf_rc=$?
  export -n PWD OLDPWD SHLVL _ RINGFENCE_EXEC_ID __RF_MARK 2>/dev/null
  { export -p && printf '%s\\n' '${ENV_END}'; } >| "$__rf_dir/env" 2>/dev/null
  pwd >| "$__rf_dir/cwd" 2>/dev/null
  printf '\\n%s' "$__RF_MARK" >&2
  pwd >&2
  exit $__rf_rc
}
trap __rf_save EXIT
eval "$1"
`;

export const bashInputSchema = z
  .object({
    command: z.string().min(1).describe('The command to run.'),
    timeout: z
      .number()
      .int()
      .positive()
      .max(MAX_BASH_TIMEOUT_MS)
      .optional()
      .describe('Timeout in ms (max 600000). Absent: the policy exec timeout.'),
    description: z.string().optional().describe('What the command does, in 5-10 words.'),
  })
  .strict();

export class BashTool implements AgentTool<typeof bashInputSchema> {
  readonly name = 'Bash';
  readonly description =
    'Runs a bash command inside the sandbox. The working directory and exported variables persist between calls like one shell session. Background processes (cmd &) may keep running for the session.';
  readonly inputSchema = {
    type: 'object' as const,
    properties: {
      command: { type: 'string', description: 'The command to run' },
      timeout: { type: 'number', description: 'Optional timeout in milliseconds (max 600000)' },
      description: { type: 'string', description: 'What the command does, in 5-10 words' },
    },
    required: ['command'],
    additionalProperties: false,
  };
  readonly schema = bashInputSchema;
  readonly #mark = `__RF_CWD_${randomBytes(8).toString('hex')}__:`;

  async run(
    input: z.infer<typeof bashInputSchema>,
    ctx: Parameters<AgentTool['run']>[1],
  ): Promise<ToolOutcome> {
    const timeoutMs = Math.min(input.timeout ?? ctx.execTimeoutMs, MAX_BASH_TIMEOUT_MS);
    const r = await ctx.sandbox.exec(['bash', '-c', PREAMBLE, 'bash', input.command], {
      env: { __RF_MARK: this.#mark },
      timeoutMs,
      signal: ctx.signal,
    });
    const { stderr, cwd } = this.#splitMark(r.stderr);
    const parts: string[] = [];
    if (r.stdout !== '') parts.push(r.stdout.replace(/\n$/, ''));
    if (stderr !== '') parts.push(stderr.replace(/\n$/, ''));
    if (r.limit) parts.push(`[${r.limit}${r.limit === 'timeout' ? ` after ${timeoutMs} ms` : ''}]`);
    if (r.exitCode !== 0) parts.push(`Exit code ${r.exitCode}`);
    const outcome: ToolOutcome = {
      content: parts.length > 0 ? parts.join('\n') : '(no output)',
      isError: r.exitCode !== 0,
      exitCode: r.exitCode,
    };
    if (cwd !== undefined) outcome.cwd = cwd;
    return outcome;
  }

  #splitMark(stderr: string): { stderr: string; cwd: string | undefined } {
    const at = stderr.lastIndexOf(`\n${this.#mark}`);
    if (at < 0) return { stderr, cwd: undefined };
    const line = stderr.slice(at + 1 + this.#mark.length).split('\n')[0] ?? '';
    const cwd = posix.normalize(line);
    const inside = cwd === SANDBOX_WORKSPACE || cwd.startsWith(`${SANDBOX_WORKSPACE}/`);
    return { stderr: stderr.slice(0, at), cwd: inside ? cwd : undefined };
  }
}
