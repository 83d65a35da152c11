// Shared helpers for benchmark scripts: timing loops, median/p90, a printed table, JSON output.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Sample {
  name: string;
  n: number;
  medianMs: number;
  p90Ms: number;
  note?: string;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

/** Runs `fn` `warmup` times untimed, then `n` times timed; returns median and p90 in ms. */
export async function measure(
  name: string,
  n: number,
  fn: () => Promise<unknown>,
  warmup = 3,
): Promise<Sample> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { name, n, medianMs: percentile(times, 50), p90Ms: percentile(times, 90) };
}

/**
 * Like `measure` for several cases at once, round-robin (one sample of each per round), so that
 * a slow patch of the machine hits every case alike: for comparisons such as "x times srt".
 */
export async function measureInterleaved(
  cases: readonly { name: string; fn: () => Promise<unknown> }[],
  n: number,
  warmup = 3,
): Promise<Sample[]> {
  const times: number[][] = cases.map(() => []);
  for (let round = 0; round < warmup + n; round++) {
    for (const [i, c] of cases.entries()) {
      const t = performance.now();
      await c.fn();
      if (round >= warmup) times[i]!.push(performance.now() - t);
    }
  }
  return cases.map((c, i) => {
    const sorted = times[i]!.sort((a, b) => a - b);
    return { name: c.name, n, medianMs: percentile(sorted, 50), p90Ms: percentile(sorted, 90) };
  });
}

export function printTable(title: string, rows: Sample[]): void {
  const width = Math.max(...rows.map((r) => r.name.length), 10);
  process.stdout.write(
    `\n${title}\n${'case'.padEnd(width)}  ${'n'.padStart(4)}  ${'median ms'.padStart(10)}  ${'p90 ms'.padStart(10)}  note\n`,
  );
  for (const r of rows) {
    process.stdout.write(
      `${r.name.padEnd(width)}  ${String(r.n).padStart(4)}  ${r.medianMs.toFixed(2).padStart(10)}  ${r.p90Ms.toFixed(2).padStart(10)}  ${r.note ?? ''}\n`,
    );
  }
}

export function writeResults(file: string, data: unknown): string {
  const path = join(dirname(fileURLToPath(import.meta.url)), 'results', file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(
    path,
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, ...((data as object) ?? {}) }, null, 2)}\n`,
  );
  return path;
}
