// Steps the supervisor-based drivers (bubblewrap, docker, gvisor) take alike around creating a
// sandbox: its id, its workspace directory, the OOM shield of its supervisor and the probe run.
import { mkdirSync, readFileSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { randomBytes } from './random-bytes.js';
import { resolve } from 'node:path';
import { SandboxError } from '../errors.js';
import type { SandboxDriver } from './driver.js';

/** A new sandbox id: `<session id, safe characters, 40 at most>-<6 hex>`, or `sb-<12 hex>`. */
export function newSandboxId(sessionId: string | undefined): string {
  return sessionId
    ? `${sessionId.replace(/[^a-zA-Z0-9_-]/g, '').slice(0, 40)}-${randomBytes(3).toString('hex')}`
    : `sb-${randomBytes(6).toString('hex')}`;
}

/** Resolves and creates the workspace; throws sandbox_failed when it is not a directory. */
export async function prepareWorkspace(path: string): Promise<{ workspace: string; stat: Stats }> {
  const workspace = resolve(path);
  // Synchronous: one mkdir and one stat on the path of every sandbox's creation.
  mkdirSync(workspace, { recursive: true });
  const wsStat = statSync(workspace);
  if (!wsStat.isDirectory())
    throw new SandboxError('sandbox_failed', `workspace is not a directory: ${workspace}`);
  return { workspace, stat: wsStat };
}

/** Keeps the OOM killer off the supervisor (child of initPid) so a bomb kills only itself. */
export function protectSupervisor(initPid: number): void {
  try {
    const children = readFileSync(`/proc/${initPid}/task/${initPid}/children`, 'utf8')
      .trim()
      .split(/\s+/);
    for (const pid of children.filter(Boolean)) writeFileSync(`/proc/${pid}/oom_score_adj`, '-900');
  } catch {
    // best effort: without it an OOM may take the supervisor down, which ends the session cleanly
  }
}

/**
 * For probe(): creates a sandbox in `workspace` with the default policy, runs `true` in it and
 * destroys it, pushing onto `problems` what went wrong.
 */
export async function probeSandboxRun(
  driver: Pick<SandboxDriver, 'create'>,
  workspace: string,
  problems: string[],
): Promise<void> {
  try {
    const sb = await driver.create({
      workspace,
      policy: (await import('../policy/policy-schema.js')).defaultPolicy(),
    });
    try {
      const r = await sb.exec(['true']);
      if (r.exitCode !== 0) problems.push(`probe exec exited ${r.exitCode}: ${r.stderr.trim()}`);
    } finally {
      await sb.destroy();
    }
  } catch (err) {
    problems.push(`probe sandbox failed: ${(err as Error).message}`);
  }
}
