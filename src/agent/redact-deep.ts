// Applies the secret redactor to every string inside a JSON-like value (events, transcript rows).
import type { Redactor } from '../secrets/redactor.js';

export function redactDeep<T>(value: T, redactor: Redactor): T {
  return walk(value, redactor) as T;
}

function walk(value: unknown, redactor: Redactor): unknown {
  if (typeof value === 'string') return redactor.redact(value);
  if (Array.isArray(value)) return value.map((v) => walk(v, redactor));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = walk(v, redactor);
    return out;
  }
  return value;
}
