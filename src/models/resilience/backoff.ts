// Pure retry timing: exponential backoff with full jitter, and parsing of retry-after headers.

export interface BackoffOptions {
  baseMs: number;
  capMs: number;
}

/**
 * Full-jitter delay for retry number `attempt` (0-based): uniform in [0, min(cap, base * 2^attempt)).
 * @example backoffMs(2, { baseMs: 500, capMs: 8000 }, () => 0.5) // 1000
 */
export function backoffMs(
  attempt: number,
  opts: BackoffOptions,
  random: () => number = Math.random,
): number {
  const ceilingMs = Math.min(opts.capMs, opts.baseMs * 2 ** attempt);
  return Math.floor(random() * ceilingMs);
}

/**
 * Delay a server asked for: `retry-after-ms` (milliseconds) wins over `retry-after` (seconds or an
 * HTTP date). Undefined when absent or unparseable.
 */
export function retryAfterMsFromHeaders(
  get: (name: string) => string | null | undefined,
  nowMs: number,
): number | undefined {
  const ms = get('retry-after-ms');
  if (ms != null && ms.trim() !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const after = get('retry-after');
  if (after == null || after.trim() === '') return undefined;
  if (Number.isFinite(Number(after))) return Math.max(0, Number(after) * 1000);
  const dateMs = Date.parse(after);
  return Number.isNaN(dateMs) ? undefined : Math.max(0, dateMs - nowMs);
}
