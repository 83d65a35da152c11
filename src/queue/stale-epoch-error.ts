// The fencing error: a lease epoch that is no longer the current one for a task or session.
// Raised by every queue and session-store write that presents an outdated epoch.
import { RingfenceError } from '../errors.js';

export class StaleEpochError extends RingfenceError {
  readonly presentedEpoch: number | undefined;
  readonly currentEpoch: number | undefined;

  constructor(
    subject: string,
    presented: number | undefined,
    current: number | undefined,
    reason: string,
  ) {
    super('conflict', `stale lease epoch for ${subject}: ${reason}`, {
      details: { subject, presentedEpoch: presented, currentEpoch: current, reason },
    });
    this.presentedEpoch = presented;
    this.currentEpoch = current;
  }
}
