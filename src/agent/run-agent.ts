// Entry point of the agent runtime: `runAgent(options)` starts one session and returns its event
// stream (an async generator) with `respond` for approvals and `abort`.
import { AgentSession } from './agent-session.js';
import type { AgentRun, RunAgentOptions } from './run-options.js';

/**
 * Runs one agent session. Nothing starts until the caller iterates.
 * @example
 * const run = runAgent({ prompt, sandbox, gateway, model, policy, unattended: true });
 * for await (const e of run) if (e.type === 'result') console.error(e.subtype);
 */
export function runAgent(options: RunAgentOptions): AgentRun {
  const session = new AgentSession(options);
  const gen = session.events();
  return Object.assign(gen, {
    sessionId: session.sessionId,
    respond: session.respond.bind(session),
    abort: session.abort.bind(session),
  });
}
