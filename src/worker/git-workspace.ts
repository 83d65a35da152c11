// A session's `{type: 'git', url, ref?}` workspace: `git clone` run INSIDE the session's sandbox,
// so it reaches the host only through the session's egress proxy and the tier's network policy.
import type { DecisionEvent } from '../egress/events.js';
import { EgressDeniedError, RingfenceError } from '../errors.js';
import type { Sandbox } from '../sandbox/driver.js';

export const GIT_CLONE_TIMEOUT_MS = 5 * 60_000;

export interface GitWorkspace {
  type: 'git';
  url: string;
  ref?: string;
}

/** A ref git will never read as an option or a revision range. */
const SAFE_REF = /^[A-Za-z0-9_][A-Za-z0-9_./-]*$/;

export function isGitWorkspace(v: unknown): v is GitWorkspace {
  const o = v as Partial<GitWorkspace> | undefined;
  return o?.type === 'git' && typeof o.url === 'string';
}

function tail(text: string, lines = 6): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

/**
 * Clones `ws` into the sandbox's (empty) /workspace and checks out `ref`; returns the commit.
 * Throws EgressDeniedError when the proxy refused the host, RingfenceError otherwise.
 * `denials()` returns the proxy's deny decisions seen so far for this session.
 * @example await cloneGitWorkspace(sb, { type: 'git', url: 'http://git.example.test/r.git' }, {...})
 */
export async function cloneGitWorkspace(
  sandbox: Sandbox,
  ws: GitWorkspace,
  options: { signal?: AbortSignal; timeoutMs?: number; denials: () => readonly DecisionEvent[] },
): Promise<{ commit: string }> {
  let url: URL;
  try {
    url = new URL(ws.url);
  } catch {
    throw new RingfenceError('invalid_request', `workspace.url: not a URL: ${ws.url}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RingfenceError(
      'invalid_request',
      'workspace.url: only http(s) git URLs are supported',
    );
  }
  if (ws.ref !== undefined && !SAFE_REF.test(ws.ref)) {
    throw new RingfenceError(
      'invalid_request',
      `workspace.ref: invalid ref ${JSON.stringify(ws.ref)}`,
    );
  }
  const env = { GIT_TERMINAL_PROMPT: '0', HOME: '/tmp', GIT_CONFIG_NOSYSTEM: '1' };
  const run = (argv: string[]) =>
    sandbox.exec(argv, {
      env,
      timeoutMs: options.timeoutMs ?? GIT_CLONE_TIMEOUT_MS,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  const clone = await run(['git', 'clone', '--quiet', '--no-tags', '--', ws.url, '.']);
  if (clone.exitCode !== 0) {
    const host = url.hostname;
    const denied = options.denials().find((d) => d.host === host || d.host === url.host);
    if (denied !== undefined) {
      throw new EgressDeniedError(
        denied.reason,
        `workspace: git clone of ${ws.url} refused by the egress policy: ${denied.host}:${denied.port} (${denied.reason}); allow it in the tier's network policy`,
        { details: { host: denied.host, port: denied.port } },
      );
    }
    throw new RingfenceError(
      'invalid_request',
      `workspace: git clone of ${ws.url} failed (exit ${clone.exitCode}): ${tail(clone.stderr)}`,
    );
  }
  if (ws.ref !== undefined) {
    // Fetch the ref explicitly (a tag, a branch or a commit the default clone did not bring).
    const fetched = await run(['git', 'fetch', '--quiet', 'origin', ws.ref]);
    const target = fetched.exitCode === 0 ? 'FETCH_HEAD' : ws.ref;
    const co = await run(['git', '-c', 'advice.detachedHead=false', 'checkout', '--quiet', target]);
    if (co.exitCode !== 0) {
      throw new RingfenceError(
        'invalid_request',
        `workspace: ref ${ws.ref} not found in ${ws.url}: ${tail(co.stderr)}`,
      );
    }
  }
  const head = await run(['git', 'rev-parse', '--verify', '--quiet', 'HEAD']);
  if (head.exitCode !== 0) {
    throw new RingfenceError(
      'invalid_request',
      `workspace: ${ws.url} has no commit to check out (empty repository or dangling HEAD); name a ref`,
    );
  }
  return { commit: head.stdout.trim() };
}
