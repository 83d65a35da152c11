// `ringfence sandbox exec -- CMD`: one command in a fresh sandbox, output streamed, its exit code
// returned; isolated by default (no network, workspace-only writes, limits on).
import type { Command } from 'commander';
import { fstatSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isatty } from 'node:tty';
import { loadTierLazily } from '../config/load-tier.js';
import type { Policy } from '../policy/policy-schema.js';
import { discardPrestartedStub } from '../sandbox/bubblewrap/early-stub.js';
import { createDriver } from '../sandbox/create-driver.js';
import { provisionSessionSandbox } from '../sandbox/provision.js';
import type { DriverName } from '../sandbox/driver.js';
import { ConfigError } from '../errors.js';
import { globalOptions } from './global-options.js';

interface ExecFlags {
  workspace?: string;
  policy?: string;
  timeout?: string;
  memory?: string;
  driver?: DriverName;
  allow: string[];
  resolve: string[];
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/**
 * What is piped or redirected into the command, if anything: not a terminal, not /dev/null, not
 * a closed fd 0. Checked on the fd, because merely creating `process.stdin` costs milliseconds.
 */
function pipedStdin(): AsyncIterable<Uint8Array> | undefined {
  try {
    if (isatty(0)) return undefined;
    const st = fstatSync(0);
    if (st.isCharacterDevice() && st.rdev === statSync('/dev/null').rdev) return undefined;
  } catch {
    return undefined;
  }
  return process.stdin;
}

/**
 * Applies the command-line overrides to a policy, re-validating so bad flags read like bad config.
 * Without any, the policy is returned as it is: it was validated when its config was loaded.
 */
export async function applyOverrides(policy: Policy, flags: ExecFlags): Promise<Policy> {
  const overridden =
    flags.timeout !== undefined ||
    flags.memory !== undefined ||
    flags.allow.length > 0 ||
    flags.resolve.length > 0;
  if (!overridden) return policy;
  const raw = structuredClone<Policy>(policy);
  if (flags.timeout) raw.limits.execTimeoutSec = Number(flags.timeout);
  if (flags.memory) raw.limits.memoryMb = Number(flags.memory);
  raw.network.allow = [...raw.network.allow, ...flags.allow];
  for (const entry of flags.resolve) {
    const [host, ip] = entry.split('=');
    if (!host || !ip)
      throw new ConfigError('bad --resolve', [
        { path: '--resolve', message: `expected HOST=IP, got "${entry}"` },
      ]);
    raw.network.resolve[host] = ip;
  }
  const { validatePolicy } = await import('../policy/load-policy.js');
  return validatePolicy(raw, 'invalid options');
}

export function registerSandboxCommand(program: Command): void {
  const sandbox = program.command('sandbox').description('run commands in a sandbox');
  sandbox
    .command('exec')
    .description('run one command in a fresh sandbox and exit with its exit code')
    .option(
      '--workspace <dir>',
      'directory shown read-write at /workspace (default: a fresh empty one)',
    )
    .option('--policy <file>', "policy file (default: the tier's policy)")
    .option('--timeout <seconds>', 'per-exec timeout')
    .option('--memory <MiB>', 'memory limit')
    .option('--driver <name>', "bubblewrap, docker or gvisor (default: the tier's)")
    .option('--allow <host[:port]>', 'allow egress to a host (repeatable)', collect, [])
    .option('--resolve <host=ip>', 'static name for the egress proxy (repeatable)', collect, [])
    .argument('<command...>', 'command and arguments (put them after --)')
    .action(async (command: string[], flags: ExecFlags, cmd: Command) => {
      try {
        process.exitCode = await execOnce(command, flags, cmd);
      } finally {
        // A stub prestarted for bubblewrap (sandbox-prestart.ts) that nothing took.
        await discardPrestartedStub();
      }
    });
}

/** Runs `command` in a fresh sandbox as the flags say; resolves its exit code. */
async function execOnce(command: string[], flags: ExecFlags, cmd: Command): Promise<number> {
  const tier = await loadTierLazily(globalOptions(cmd));
  // The policy schema (zod) loads only for a policy file or overrides to validate.
  const policy = await applyOverrides(
    flags.policy
      ? (await import('../policy/load-policy.js')).loadPolicyFile(flags.policy)
      : tier.policy,
    flags,
  );
  const driver = await createDriver(flags.driver ?? tier.sandbox.driver, { expect: 'one' });
  const scratch = flags.workspace ? undefined : await mkdtemp(join(tmpdir(), 'ringfence-ws-'));
  const workspace = flags.workspace ? resolve(flags.workspace) : scratch!;
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let exitCode = 1;
  try {
    const { sandbox: box, egress } = await provisionSessionSandbox(driver, {
      workspace,
      policy,
      signal: abort.signal,
      dataDir: tier.dataDir,
    });
    try {
      const stdin = pipedStdin();
      const result = await box.exec(command, {
        signal: abort.signal,
        onStdout: (c) => process.stdout.write(c),
        onStderr: (c) => process.stderr.write(c),
        ...(stdin ? { stdin } : {}),
      });
      if (result.stdoutTruncatedBytes + result.stderrTruncatedBytes > 0) {
        process.stderr.write(`ringfence: output exceeded the cap; the result kept head and tail\n`);
      }
      if (result.limit) process.stderr.write(`ringfence: ${result.limit}\n`);
      exitCode = result.exitCode;
    } finally {
      await box.destroy();
      await egress?.close();
    }
  } finally {
    await driver.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
  return exitCode;
}
