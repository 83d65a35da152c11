// Test hosts in network namespaces: a veth pair with documentation addresses (198.51.100.0/24,
// 203.0.113.0/24) and processes started inside. Needs root and `ip`; `netnsSkipReason` says why not.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface NetnsOptions {
  /** Address of the host side of the veth, e.g. 198.51.100.1. */
  hostIp: string;
  /** Addresses inside the namespace; the first is the primary. */
  nsIps: readonly string[];
  /** Prefix length of the test subnet. Default 24. */
  prefix?: number;
}

export interface TestNetns {
  readonly name: string;
  readonly hostIp: string;
  readonly nsIps: readonly string[];
  /** Starts a process inside the namespace; it is killed by `destroy`. */
  spawn(command: string, args: readonly string[], env?: NodeJS.ProcessEnv): ChildProcess;
  destroy(): Promise<void>;
}

/** Why namespace-backed tests cannot run here, or undefined when they can. */
export async function netnsSkipReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  try {
    await run('ip', ['-V']);
  } catch {
    return 'the `ip` command (iproute2) is not installed';
  }
  return undefined;
}

/** Creates `rf-<random>` with a veth pair; call `destroy()` in afterAll. */
export async function createNetns(options: NetnsOptions): Promise<TestNetns> {
  const id = randomBytes(3).toString('hex');
  const name = `rf-${id}`;
  const hostIf = `rfh${id}`;
  const nsIf = `rfn${id}`;
  const prefix = options.prefix ?? 24;
  const children = new Set<ChildProcess>();
  const ip = (...args: string[]): Promise<unknown> => run('ip', args);
  const destroy = async (): Promise<void> => {
    for (const c of children) c.kill('SIGKILL');
    await ip('link', 'del', hostIf).catch(() => undefined);
    await ip('netns', 'del', name).catch(() => undefined);
  };
  const { stdout } = await run('ip', ['-o', 'addr', 'show']);
  if (stdout.includes(` ${options.hostIp}/`))
    throw new Error(`${options.hostIp} is already assigned on this host (another test namespace?)`);
  try {
    await ip('netns', 'add', name);
    await ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
    await ip('link', 'set', nsIf, 'netns', name);
    await ip('addr', 'add', `${options.hostIp}/${prefix}`, 'dev', hostIf);
    await ip('link', 'set', hostIf, 'up');
    for (const addr of options.nsIps)
      await ip('netns', 'exec', name, 'ip', 'addr', 'add', `${addr}/${prefix}`, 'dev', nsIf);
    await ip('netns', 'exec', name, 'ip', 'link', 'set', nsIf, 'up');
    await ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
  } catch (err) {
    await destroy();
    throw err;
  }
  return {
    name,
    hostIp: options.hostIp,
    nsIps: options.nsIps,
    spawn(command, args, env) {
      const child = spawn('ip', ['netns', 'exec', name, command, ...args], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
    destroy,
  };
}

/** Resolves when `child` prints `marker` on stdout; rejects if it exits first. */
export function waitForLine(
  child: ChildProcess,
  marker: string,
  timeoutMs = 10_000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(
      () => reject(new Error(`timeout waiting for ${marker}: ${err}`)),
      timeoutMs,
    );
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(marker)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ${marker}: ${err}`));
    });
  });
}
