// Pure retry timing: exponential backoff with a cap, used when a task fails retryably.
// `attempt` counts from 1 (the attempt that just failed).

export const DEFAULT_BACKOFF_BASE_MS = 1_000;
export const DEFAULT_BACKOFF_CAP_MS = 300_000;

/**
 * Delay before the next try: base * 2^(attempt-1), never above cap.
 * @example backoff(3, 1000, 60_000) === 4000
 */
export function backoff(attempt: number, baseMs: number, capMs: number): number {
  const exp = Math.max(0, Math.floor(attempt) - 1);
  // 2^exp overflows to Infinity for huge attempts; Math.min keeps it at the cap.
  return Math.min(capMs, baseMs * 2 ** exp);
}
