// Turns the agent events of running sessions into SLO outcomes: a tool_result is a tool call
// (bad when is_error), an answered model call is good, a retried or finally failed one is bad.
import type { SloName } from './slo-schema.js';

/** The fields of an agent event this classifier reads (AgentEvent fits). */
export interface ObservedEvent {
  type: string;
  is_error?: boolean;
  subtype?: string;
  stop_reason?: string;
  event?: { type?: string };
}

export interface Outcome {
  slo: SloName;
  bad: boolean;
}

export class SessionOutcomes {
  /** Sessions whose next event should be a model reply (a call is in flight). */
  readonly #awaitingModel = new Set<string>();

  classify(sessionId: string, e: ObservedEvent): Outcome[] {
    switch (e.type) {
      case 'system':
      case 'user':
        // init and tool results are followed by a model call
        this.#awaitingModel.add(sessionId);
        return [];
      case 'tool_result':
        return [{ slo: 'tool_failure', bad: e.is_error === true }];
      case 'assistant':
        this.#awaitingModel.delete(sessionId);
        return [{ slo: 'model_error', bad: false }];
      case 'gateway':
        // one failed attempt, retried by the gateway
        return e.event?.type === 'retry' ? [{ slo: 'model_error', bad: true }] : [];
      case 'result': {
        const pending = this.#awaitingModel.delete(sessionId);
        // the run stopped with an error while a model call was in flight: the call failed
        const failedCall =
          pending && e.subtype === 'error_during_execution' && e.stop_reason !== 'aborted';
        return failedCall ? [{ slo: 'model_error', bad: true }] : [];
      }
      default:
        return [];
    }
  }
}
