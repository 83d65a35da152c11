// Persisted canary state: one JSON file per canary under a state directory, written atomically
// (temp file + rename) so `ringfence canary status` and restarts see a consistent view.
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type CanaryStatus = 'running' | 'promoted' | 'rolled_back';

export interface ArmMetrics {
  calls: number;
  errors: number;
  latencyMsTotal: number;
  toolResults: number;
  toolErrors: number;
  costUsd: number;
}

export interface CanaryState {
  name: string;
  baselineRoute: string;
  canaryRoute: string;
  status: CanaryStatus;
  stageIndex: number;
  weightPercent: number;
  /** Metrics of the current stage (reset on promotion). */
  metrics: { baseline: ArmMetrics; canary: ArmMetrics };
  history: { atMs: number; event: string }[];
}

export function emptyArm(): ArmMetrics {
  return { calls: 0, errors: 0, latencyMsTotal: 0, toolResults: 0, toolErrors: 0, costUsd: 0 };
}

export function canaryStatePath(dir: string, name: string): string {
  return join(dir, `canary-${name}.json`);
}

export function loadCanaryState(dir: string, name: string): CanaryState | undefined {
  try {
    return JSON.parse(readFileSync(canaryStatePath(dir, name), 'utf8')) as CanaryState;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export function saveCanaryState(dir: string, state: CanaryState): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = canaryStatePath(dir, state.name);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/** Every canary state in a directory (empty when the directory does not exist). */
export function readCanaryStates(dir: string): CanaryState[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .filter((n) => /^canary-.+\.json$/.test(n))
    .map((n) => JSON.parse(readFileSync(join(dir, n), 'utf8')) as CanaryState);
}
