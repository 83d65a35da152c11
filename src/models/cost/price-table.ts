// Prices per model in USD per million tokens (input, output, cache read, cache write). A model that
// is not in the table has an unknown cost (`undefined`), never 0.
import { z } from 'zod';

export const modelPriceSchema = z
  .object({
    inputPerMTok: z.number().nonnegative().describe('USD per million input tokens.'),
    outputPerMTok: z.number().nonnegative().describe('USD per million output tokens.'),
    cacheReadPerMTok: z.number().nonnegative().optional().describe('Absent: 10% of input.'),
    cacheWritePerMTok: z.number().nonnegative().optional().describe('Absent: 125% of input.'),
  })
  .strict();

export const priceTableSchema = z
  .record(modelPriceSchema)
  .describe(
    'Model id (as the provider names it, or its base id such as claude-sonnet-4-5; a trailing * is a prefix) -> price.',
  );

export type ModelPrice = z.infer<typeof modelPriceSchema>;
export type PriceTableConfig = z.infer<typeof priceTableSchema>;

/** Published list prices of current models (USD/MTok); config entries override these. */
export const DEFAULT_PRICES: PriceTableConfig = {
  'claude-opus-4-5*': { inputPerMTok: 5, outputPerMTok: 25 },
  'claude-opus-4-1*': { inputPerMTok: 15, outputPerMTok: 75 },
  'claude-opus-4*': { inputPerMTok: 15, outputPerMTok: 75 },
  'claude-sonnet-4-5*': { inputPerMTok: 3, outputPerMTok: 15 },
  'claude-sonnet-4*': { inputPerMTok: 3, outputPerMTok: 15 },
  'claude-haiku-4-5*': { inputPerMTok: 1, outputPerMTok: 5 },
  'claude-3-5-haiku*': { inputPerMTok: 0.8, outputPerMTok: 4 },
};

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

/**
 * Base id of a provider model id: `us.anthropic.claude-sonnet-4-5-20250929-v1:0` and
 * `claude-sonnet-4-5@20250929` both become `claude-sonnet-4-5-20250929`.
 */
export function baseModelId(model: string): string {
  return model
    .replace(/^([a-z]{2,4}\.)?anthropic\./, '')
    .replace(/-v\d+(:\d+)?$/, '')
    .replace('@', '-');
}

export class PriceTable {
  readonly #entries: readonly [string, ModelPrice][];

  constructor(config: PriceTableConfig = {}, defaults: PriceTableConfig = DEFAULT_PRICES) {
    // Config first so it overrides defaults; longer patterns first so the most specific wins.
    const merged = { ...defaults, ...config };
    this.#entries = Object.entries(merged).sort((a, b) => {
      const inConfig = Number(b[0] in config) - Number(a[0] in config);
      return inConfig !== 0 ? inConfig : b[0].length - a[0].length;
    });
  }

  /** The price of a model, or undefined when unknown. */
  priceFor(model: string): ModelPrice | undefined {
    const ids = [model, baseModelId(model)];
    for (const [pattern, price] of this.#entries) {
      const hit = pattern.endsWith('*')
        ? ids.some((id) => id.startsWith(pattern.slice(0, -1)))
        : ids.includes(pattern);
      if (hit) return price;
    }
    return undefined;
  }

  /** USD cost of a call, or undefined when the model's price is unknown. */
  costUsd(model: string, usage: TokenUsage): number | undefined {
    const p = this.priceFor(model);
    if (!p) return undefined;
    const cacheRead = p.cacheReadPerMTok ?? p.inputPerMTok * 0.1;
    const cacheWrite = p.cacheWritePerMTok ?? p.inputPerMTok * 1.25;
    return (
      (usage.inputTokens * p.inputPerMTok +
        usage.outputTokens * p.outputPerMTok +
        usage.cacheReadTokens * cacheRead +
        usage.cacheWriteTokens * cacheWrite) /
      1_000_000
    );
  }
}
