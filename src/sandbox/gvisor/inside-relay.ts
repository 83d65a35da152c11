// The egress relay that runs inside a gVisor sandbox: gVisor's network stack lives in its sentry,
// so no host-side relay can reach the sandbox's loopback; a relay inside forwards to the socket.
import { lstat, chown } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SandboxError } from '../../errors.js';
import type { Sandbox } from '../driver.js';

/** Host path of the relay program (bound read-only into the container). */
export const RELAY_SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'egress-relay.py');
export const RELAY_IN_CONTAINER = '/.ringfence/egress-relay.py';
const RELAY_START_TIMEOUT_MS = 15_000;

/**
 * Lets the sandbox user (and only it, mode 0600 stays) connect to the session's proxy socket:
 * gVisor's sentry checks the host file's owner and mode against the container's uid.
 */
export async function handSocketTo(socketPath: string, uid: number, gid: number): Promise<void> {
  const st = await lstat(socketPath);
  if (!st.isSocket())
    throw new SandboxError('sandbox_failed', `egress socket is not a socket: ${socketPath}`);
  if (st.uid === uid && st.gid === gid) return;
  if (process.getuid?.() !== 0)
    throw new SandboxError(
      'sandbox_unavailable',
      `egress for gvisor sandboxes needs root (the proxy socket must be owned by uid ${uid})`,
    );
  await chown(socketPath, uid, gid);
}

/**
 * Starts the relay as the sandbox's first exec: it listens on 127.0.0.1:`port` and forwards to
 * `socketInSandbox`. It runs as the sandbox user, so the agent can kill it — which only cuts its
 * own egress; it cannot reach anything the socket would not give it anyway.
 */
export async function startInsideRelay(
  sandbox: Sandbox,
  port: number,
  socketInSandbox: string,
): Promise<void> {
  const result = await sandbox.exec(
    ['python3', '-I', '-S', '-B', RELAY_IN_CONTAINER, '127.0.0.1', String(port), socketInSandbox],
    { cwd: '/workspace', timeoutMs: RELAY_START_TIMEOUT_MS },
  );
  if (result.exitCode !== 0 || !result.stdout.includes('listening'))
    throw new SandboxError(
      'sandbox_failed',
      `egress relay inside the sandbox did not start (exit ${result.exitCode}${
        result.limit ? `, ${result.limit}` : ''
      }): ${result.stderr.trim().slice(0, 500)}`,
    );
}
