// The AlertStore contract: fired SLO alerts kept for GET /v1/alerts, with their webhook
// delivery state. Backends: sqlite/ (the server_alerts table of ringfence.db); postgres/ later.
import type { BurnAlert } from './burn-rate.js';

export interface StoredAlert extends BurnAlert {
  /** `alr_<random hex>`; also sent to the webhook so receivers can deduplicate retries. */
  id: string;
  /** Config tier whose sessions burned the budget. */
  tier: string;
  /** ms since the epoch. */
  firedAt: number;
  /** true once the webhook answered 2xx (always false without a webhook). */
  delivered: boolean;
}

export interface AlertStore {
  insert(alert: StoredAlert): Promise<void>;
  markDelivered(id: string): Promise<void>;
  /** Newest first, at most `limit`. */
  list(limit: number): Promise<StoredAlert[]>;
  close(): Promise<void>;
}
