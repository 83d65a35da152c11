// `ringfence run "PROMPT"`: one agent session in a fresh bubblewrap sandbox, live output (or
// --json events), TTY approval prompts, transcript + audit under the data dir; exit 0 on success.
import type { Command } from 'commander';
import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';
import { loadTier } from '../config/load-config.js';
import { permissionModeSchema, type Policy } from '../policy/policy-schema.js';
import { validatePolicy } from '../policy/load-policy.js';
import { createDriver } from '../sandbox/create-driver.js';
import { provisionSessionSandbox } from '../sandbox/provision.js';
import { RoutingGateway } from '../models/gateway/routing-gateway.js';
import { chooseRoutes } from '../models/choose-routes.js';
import { openAuditLog } from '../audit/open-audit.js';
import { createSessionStore } from '../sessions/create-session-store.js';
import { resolveSecrets } from '../secrets/resolve-secrets.js';
import { runAgent } from '../agent/run-agent.js';
import { roleByName } from '../agent/roles.js';
import { EventPrinter } from '../agent/render/event-printer.js';
import { globalOptions } from './config-command.js';

/** The workspace copied when --workspace is absent. */
export const SAMPLE_WORKSPACE = fileURLToPath(
  new URL('../../examples/sample-workspace', import.meta.url),
);

interface RunFlags {
  workspace?: string;
  provider?: string;
  model?: string;
  mode?: string;
  allowTool: string[];
  disallowTool: string[];
  maxTurns?: string;
  maxBudgetUsd?: string;
  role?: string;
  json?: boolean;
  script?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function bad(path: string, message: string): never {
  throw new ConfigError('invalid options', [{ path, message }]);
}

function applyToolFlags(policy: Policy, flags: RunFlags): Policy {
  const raw = structuredClone(policy);
  raw.tools.allow = [...raw.tools.allow, ...flags.allowTool];
  raw.tools.deny = [...raw.tools.deny, ...flags.disallowTool];
  if (flags.mode !== undefined) {
    const m = permissionModeSchema.safeParse(flags.mode);
    if (!m.success) bad('--mode', `must be one of ${permissionModeSchema.options.join(', ')}`);
    raw.tools.mode = m.data;
  }
  return validatePolicy(raw, 'invalid options');
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run one agent session on a workspace and print what it does')
    .argument('<prompt>', 'the task for the agent')
    .option(
      '--workspace <dir>',
      'directory shown at /workspace (default: a copy of the sample workspace)',
    )
    .option(
      '--provider <name>',
      "model provider: anthropic, bedrock, vertex or scripted (default: the tier's)",
    )
    .option('--model <id>', "model id (default: the tier's)")
    .option(
      '--script <file>',
      'scripted provider: the YAML script (default: examples/scripts/demo.yaml)',
    )
    .option(
      '--mode <mode>',
      'permission mode: default, acceptEdits, plan, dontAsk, bypassPermissions',
    )
    .option(
      '--allow-tool <rule>',
      'pre-approve a tool rule, e.g. "Bash(npm test:*)" (repeatable)',
      collect,
      [],
    )
    .option('--disallow-tool <rule>', 'deny a tool rule (repeatable)', collect, [])
    .option('--max-turns <n>', 'stop after this many model turns (default 50)')
    .option('--max-budget-usd <usd>', 'stop when the session has spent this much')
    .option(
      '--role <name>',
      'role: reviewer, developer, tester, or one defined in the policy (tools.roles)',
    )
    .option('--json', 'print one JSON event per line')
    .action(async (prompt: string, flags: RunFlags, cmd: Command) => {
      process.exitCode = await runCommand(prompt, flags, cmd);
    });
}

async function runCommand(prompt: string, flags: RunFlags, cmd: Command): Promise<number> {
  const tier = loadTier(globalOptions(cmd));
  const policy = applyToolFlags(tier.policy, flags);
  const maxTurns = flags.maxTurns === undefined ? undefined : Number(flags.maxTurns);
  if (maxTurns !== undefined && !(Number.isInteger(maxTurns) && maxTurns > 0))
    bad('--max-turns', 'must be a positive integer');
  const budget = flags.maxBudgetUsd === undefined ? undefined : Number(flags.maxBudgetUsd);
  if (budget !== undefined && !(budget > 0)) bad('--max-budget-usd', 'must be a positive number');
  const role = flags.role === undefined ? undefined : roleByName(flags.role, policy);
  const routes = chooseRoutes(tier.model, tier.name, flags);
  const secrets = (await resolveSecrets(policy.secrets)).map((s) => ({
    name: s.name,
    value: s.value,
  }));
  const sessionId = randomUUID();
  const workspace = flags.workspace
    ? resolve(flags.workspace)
    : (() => {
        const dir = mkdtempSync(join(tmpdir(), 'ringfence-run-'));
        cpSync(SAMPLE_WORKSPACE, dir, { recursive: true });
        return dir;
      })();
  const tty = process.stdin.isTTY === true && process.stdout.isTTY === true && flags.json !== true;
  process.stderr.write(`ringfence: workspace ${workspace}\n`);

  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const driver = await createDriver(tier.sandbox.driver, { expect: 'one' });
  const gateway = new RoutingGateway({ routes, config: tier.gateway });
  const { log: audit } = openAuditLog({ dataDir: tier.dataDir });
  const store = await createSessionStore({ backend: 'sqlite', dataDir: tier.dataDir });
  const printer = new EventPrinter({ out: process.stdout, err: process.stderr, tty });
  const rl = tty ? createInterface({ input: process.stdin, output: process.stderr }) : undefined;
  let success = false;
  try {
    // Egress: the session's own proxy, each decision appended to the session's audit log.
    const { sandbox, egress } = await provisionSessionSandbox(driver, {
      workspace,
      policy,
      sessionId,
      signal: abort.signal,
      dataDir: tier.dataDir,
      audit,
    });
    try {
      const run = runAgent({
        prompt,
        sandbox,
        gateway,
        policy,
        sessionId,
        audit,
        store,
        secrets,
        signal: abort.signal,
        model: routes[0]?.model ?? 'unknown',
        tier: tier.name,
        unattended: !tty,
        mock: policy.tools.mock || tier.features['mockTools'] === true,
        ...(role === undefined ? {} : { role }),
        ...(maxTurns === undefined ? {} : { maxTurns }),
        ...(budget === undefined ? {} : { maxBudgetUsd: budget }),
      });
      for await (const e of run) {
        if (flags.json === true) {
          if (e.type !== 'text_delta') process.stdout.write(`${JSON.stringify(e)}\n`);
        } else printer.print(e);
        if (e.type === 'approval_request' && rl) {
          const answer = await rl.question(
            `? Allow ${e.tool}(${JSON.stringify(e.input)})\n  ${e.reason} [y/N] `,
          );
          const yes = /^y(es)?$/i.test(answer.trim());
          run.respond(
            e.request_id,
            yes ? { behavior: 'allow' } : { behavior: 'deny', message: 'denied by the operator' },
          );
        }
        if (e.type === 'result') success = e.subtype === 'success';
      }
    } finally {
      await sandbox.destroy();
      await egress?.close();
    }
  } finally {
    printer.thinking(false);
    rl?.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await Promise.allSettled([gateway.close(), audit.close(), store.close(), driver.close()]);
  }
  return success ? 0 : 1;
}
