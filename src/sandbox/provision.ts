// Creates a sandbox for a session with its egress wired in: the session's proxy socket, a relay
// (outside joining only its netns, or inside for gVisor), proxy env and the CA it trusts.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from './random-bytes.js';
import { chmod, chown, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SandboxError } from '../errors.js';
import type {
  CertificateAuthority,
  CredentialBinding,
  DecisionEvent,
  EgressProxy,
  EgressSession,
} from '../egress/index.js';
import type { SessionEgress } from '../egress/session-egress.js';
import { proxyEnv } from '../egress/proxy-env.js';
import type { CreateSandboxOptions, Sandbox, SandboxDriver } from './driver.js';

/** Port the relay listens on inside every sandbox's own loopback. */
export const SANDBOX_PROXY_PORT = 3128;
/** Where the CA bundle appears inside the sandbox when TLS is terminated for bound hosts. */
export const SANDBOX_CA_PATH = '/etc/ringfence/ca-bundle.pem';
/** Relay uid for drivers that do not report one (containers). */
const FALLBACK_RELAY_UID = 1_199_999_999;

export interface EgressWiring {
  proxy: EgressProxy;
  /** Resolved credential bindings for this session (values stay on the host). */
  secrets?: readonly CredentialBinding[];
  /** Needed when `secrets` is non-empty: the sandbox trusts this CA for bound hosts. */
  ca?: CertificateAuthority;
}

export interface ProvisionOptions extends CreateSandboxOptions {
  egress?: EgressWiring;
}

function runDir(): string {
  return process.getuid?.() === 0
    ? '/run/ringfence'
    : join(tmpdir(), `ringfence-${process.getuid?.() ?? 'user'}`);
}

/**
 * The relay of a sandbox: the C relay (build/rf-relay) when built, which lets the session's proxy
 * hand approved tunnels to it (dialled to the pinned IP, spliced); else `socat`, which forwards
 * every byte through the proxy (also chosen by RINGFENCE_EGRESS_RELAY=socat). Both listen on
 * 127.0.0.1:3128 in the sandbox's network namespace only and run as the sandbox's host uid.
 */
async function startRelay(
  initPid: number,
  session: EgressSession,
  uid: number,
): Promise<{ stop(): void }> {
  const { relayBinary, RelayProcess } = await import('../egress/relay-process.js');
  if (relayBinary() && process.env.RINGFENCE_EGRESS_RELAY !== 'socat') {
    const relay = await RelayProcess.start({
      socketPath: session.socketPath,
      netns: `/proc/${initPid}/ns/net`,
      port: SANDBOX_PROXY_PORT,
      uid,
    });
    session.attachRelay(relay);
    return relay;
  }
  const socat = await startSocat(initPid, session.socketPath, uid);
  return { stop: () => socat.kill('SIGKILL') };
}

/** `socat` in the sandbox's network namespace, forwarding 127.0.0.1:3128 to the proxy socket. */
async function startSocat(initPid: number, socketPath: string, uid: number): Promise<ChildProcess> {
  const child = spawn(
    'nsenter',
    [
      `--net=/proc/${initPid}/ns/net`,
      '--',
      'setpriv',
      `--reuid=${uid}`,
      `--regid=${uid}`,
      '--clear-groups',
      '--pdeathsig',
      'KILL',
      'socat',
      '-d',
      '-d',
      '-b',
      '131072',
      `TCP-LISTEN:${SANDBOX_PROXY_PORT},bind=127.0.0.1,fork,reuseaddr,nodelay`,
      `UNIX-CONNECT:${socketPath}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let err = '';
    const onData = (d: Buffer): void => {
      err += d.toString();
      if (/listening on/.test(err)) {
        child.stderr?.off('data', onData);
        child.stderr?.resume();
        resolve();
      }
    };
    child.stderr?.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) =>
      reject(new SandboxError('sandbox_failed', `egress relay exited ${code}: ${err.trim()}`)),
    );
  });
  return child;
}

/**
 * Creates a sandbox; when the policy allows any host (or binds a secret) and an egress proxy is
 * given, the sandbox's only way out is its own proxy session.
 * @example const sb = await provisionSandbox(driver, { workspace, policy, sessionId, egress: { proxy } });
 */
export async function provisionSandbox(
  driver: SandboxDriver,
  options: ProvisionOptions,
): Promise<Sandbox> {
  const { egress, ...createOptions } = options;
  const wantsEgress =
    egress && (options.policy.network.allow.length > 0 || (egress.secrets?.length ?? 0) > 0);
  if (!egress || !wantsEgress) return driver.create(createOptions);
  // 'inside': the driver binds the socket in and runs the relay in the sandbox (gVisor).
  const inside = driver.egressRelay === 'inside';
  if (!inside && process.getuid?.() !== 0) {
    throw new SandboxError(
      'sandbox_unavailable',
      'egress for sandboxes needs root (the relay joins the sandbox network namespace)',
    );
  }
  const sessionId = options.sessionId ?? `sb-${randomBytes(6).toString('hex')}`;
  const dir = join(runDir(), 'egress');
  await mkdir(dir, { recursive: true, mode: 0o711 });
  // An 'inside' socket is handed to the container's uid (1000, maybe a real host user): it lives
  // in a root-only directory, which the bind mount does not need to traverse from inside.
  const socketDir = inside ? join(dir, 'inside') : dir;
  if (inside) {
    await mkdir(socketDir, { recursive: true, mode: 0o700 });
    await chmod(socketDir, 0o700);
  }
  const socketPath = join(
    socketDir,
    `${sessionId.replace(/[^a-zA-Z0-9_-]/g, '')}-${randomBytes(4).toString('hex')}.sock`,
  );
  const session: EgressSession = await egress.proxy.openSession({
    sessionId,
    policy: options.policy.network,
    ...(egress.secrets ? { secrets: egress.secrets } : {}),
    socketPath,
  });
  let caFile: string | undefined;
  const extraReadOnly = [...(options.extraReadOnly ?? [])];
  if (egress.secrets?.length && egress.ca) {
    caFile = join(dir, `${sessionId}-ca.pem`);
    // the upstream CAs the proxy trusts too: the bundle replaces the tools' own stores
    await writeFile(caFile, egress.ca.trustBundlePem(egress.proxy.upstreamCa), { mode: 0o644 });
    extraReadOnly.push({ host: caFile, sandbox: SANDBOX_CA_PATH });
  }
  const env = {
    ...(options.env ?? {}),
    ...proxyEnv({ port: SANDBOX_PROXY_PORT, ...(caFile ? { caCertPath: SANDBOX_CA_PATH } : {}) }),
  };
  let sandbox: Sandbox | undefined;
  let relay: { stop(): void } | undefined;
  try {
    sandbox = await driver.create({
      ...createOptions,
      sessionId,
      env,
      extraReadOnly,
      ...(inside ? { egressSocket: socketPath } : {}),
    });
    // With 'inside', create() has returned with the relay listening inside: nothing to start.
    if (!inside) {
      if (!sandbox.initPid)
        throw new SandboxError(
          'sandbox_failed',
          `the ${driver.name} sandbox did not report its pid`,
        );
      const relayUid = sandbox.hostUid ?? FALLBACK_RELAY_UID;
      await chown(socketPath, relayUid, relayUid);
      relay = await startRelay(sandbox.initPid, session, relayUid);
    }
  } catch (err) {
    await sandbox?.destroy().catch(() => undefined);
    await session.close();
    if (caFile) await rm(caFile, { force: true });
    throw err;
  }
  return withEgress(sandbox, async () => {
    relay?.stop();
    await session.close();
    if (caFile) await rm(caFile, { force: true });
  });
}

/** The same sandbox, whose destroy also tears down its egress. */
function withEgress(sandbox: Sandbox, teardown: () => Promise<void>): Sandbox {
  let destroying: Promise<void> | undefined;
  const destroy = (): Promise<void> => {
    destroying ??= (async () => {
      const results = await Promise.allSettled([sandbox.destroy(), teardown()]);
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    })();
    return destroying;
  };
  return new Proxy(sandbox, {
    get(target, prop) {
      if (prop === 'destroy') return destroy;
      const value: unknown = Reflect.get(target, prop);
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(target)
        : value;
    },
  });
}

/** Where a session's egress decisions go (the audit log's `append`). */
export interface EgressAuditSink {
  append(logId: string, type: 'egress', data: Record<string, never>): Promise<unknown>;
}

export interface SessionSandboxOptions extends CreateSandboxOptions {
  /** Data directory (the egress CA lives there). */
  dataDir: string;
  /** Each egress decision is appended here under the session id, when given. */
  audit?: EgressAuditSink | undefined;
  /** Also told every decision (e.g. to collect denials). */
  onDecision?: (ev: DecisionEvent) => void;
}

export interface SessionSandbox {
  sandbox: Sandbox;
  /** The session's egress, when its policy lets anything out; close it after the sandbox. */
  egress: SessionEgress | undefined;
}

/**
 * What `ringfence run`, `sandbox exec` and the worker do for a session: open its egress (only
 * when the policy lets something out; the proxy code is loaded only then), record each decision
 * in the audit log, and provision the sandbox with it. Nothing is left open on failure.
 */
export async function provisionSessionSandbox(
  driver: SandboxDriver,
  options: SessionSandboxOptions,
): Promise<SessionSandbox> {
  const { dataDir, audit, onDecision, ...create } = options;
  const { policy } = create;
  const logId = create.sessionId;
  const needsEgress = policy.network.allow.length > 0 || Object.keys(policy.secrets).length > 0;
  const egress = needsEgress
    ? await (
        await import('../egress/session-egress.js')
      ).openSessionEgress(policy, dataDir, (ev) => {
        onDecision?.(ev);
        if (audit && logId) {
          void audit
            .append(logId, 'egress', JSON.parse(JSON.stringify(ev)) as Record<string, never>)
            .catch(() => undefined);
        }
      })
    : undefined;
  try {
    const sandbox = await provisionSandbox(driver, {
      ...create,
      ...(egress ? { egress: egress.wiring } : {}),
    });
    return { sandbox, egress };
  } catch (err) {
    await egress?.close();
    throw err;
  }
}
