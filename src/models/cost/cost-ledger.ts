// Token and cost totals per session and per tenant. `CostLedger` is the contract a persistent
// store can implement later; `InMemoryCostLedger` is the embedded default.
import type { TokenUsage } from './price-table.js';

export interface CostEntry {
  sessionId: string;
  tenantId: string | undefined;
  route: string;
  usage: TokenUsage;
  /** undefined when the model's price is unknown. */
  costUsd: number | undefined;
}

export interface CostTotals extends TokenUsage {
  calls: number;
  /** Sum of the known costs. */
  costUsd: number;
  /** Calls whose cost is unknown; when > 0, `costUsd` is a lower bound. */
  unpricedCalls: number;
}

export interface CostLedger {
  record(entry: CostEntry): void;
  sessionTotals(sessionId: string): CostTotals;
  tenantTotals(tenantId: string): CostTotals;
}

export function emptyTotals(): CostTotals {
  return {
    calls: 0,
    costUsd: 0,
    unpricedCalls: 0,
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
  };
}

function add(t: CostTotals, e: CostEntry): void {
  t.calls += 1;
  t.inputTokens += e.usage.inputTokens;
  t.outputTokens += e.usage.outputTokens;
  t.cacheReadTokens += e.usage.cacheReadTokens;
  t.cacheWriteTokens += e.usage.cacheWriteTokens;
  if (e.costUsd === undefined) t.unpricedCalls += 1;
  else t.costUsd += e.costUsd;
}

export class InMemoryCostLedger implements CostLedger {
  readonly #sessions = new Map<string, CostTotals>();
  readonly #tenants = new Map<string, CostTotals>();

  record(entry: CostEntry): void {
    const s = this.#sessions.get(entry.sessionId) ?? emptyTotals();
    add(s, entry);
    this.#sessions.set(entry.sessionId, s);
    if (entry.tenantId !== undefined) {
      const t = this.#tenants.get(entry.tenantId) ?? emptyTotals();
      add(t, entry);
      this.#tenants.set(entry.tenantId, t);
    }
  }

  sessionTotals(sessionId: string): CostTotals {
    return { ...(this.#sessions.get(sessionId) ?? emptyTotals()) };
  }

  tenantTotals(tenantId: string): CostTotals {
    return { ...(this.#tenants.get(tenantId) ?? emptyTotals()) };
  }
}

export interface BudgetCheck {
  ok: boolean;
  spentUsd: number;
  remainingUsd: number;
  /** True when some calls were unpriced, so `spentUsd` is a lower bound. */
  incomplete: boolean;
}

/** Whether a session may make another call under `maxBudgetUsd` (spent must stay below it). */
export function checkBudget(totals: CostTotals, maxBudgetUsd: number): BudgetCheck {
  return {
    ok: totals.costUsd < maxBudgetUsd,
    spentUsd: totals.costUsd,
    remainingUsd: Math.max(0, maxBudgetUsd - totals.costUsd),
    incomplete: totals.unpricedCalls > 0,
  };
}

/** Token usage of an Anthropic `usage` object. */
export function usageOf(u: {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
}): TokenUsage {
  return {
    inputTokens: u.input_tokens,
    outputTokens: u.output_tokens,
    cacheReadTokens: u.cache_read_input_tokens ?? 0,
    cacheWriteTokens: u.cache_creation_input_tokens ?? 0,
  };
}
