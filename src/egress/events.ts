// Typed egress decision events and a tiny emitter: what the audit log and dashboards consume.
// A throwing listener is logged and never breaks the proxy or other listeners.
import type { ConnectionKind } from './decide.js';

/** One egress decision: denials at decision time, allowed ones when the connection ends. */
export interface DecisionEvent {
  sessionId: string;
  host: string;
  port: number;
  /** The checked (pinned) IP; undefined when refused before resolution. */
  ip: string | undefined;
  allowed: boolean;
  /** A stable reason code (see reasons.ts) when denied, else `allowed`. */
  reason: string;
  /** The allowlist entry that allowed it, when allowed. */
  rule: string | undefined;
  /** Bytes from upstream to the sandbox. */
  bytesIn: number;
  /** Bytes from the sandbox to upstream. */
  bytesOut: number;
  durationMs: number;
  kind: ConnectionKind;
  /** Names (never values) of credentials injected into this request. */
  injected: readonly string[];
  /** True for requests inside a TLS tunnel the proxy terminated. */
  terminated: boolean;
}

export type DecisionListener = (event: DecisionEvent) => void;

/** Tiny injected logger, pino-compatible; default silent. */
export interface EgressLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => undefined;
export const silentLogger: EgressLogger = { debug: noop, info: noop, warn: noop, error: noop };

export class DecisionEmitter {
  readonly #listeners = new Set<DecisionListener>();
  readonly #logger: EgressLogger;

  constructor(logger: EgressLogger) {
    this.#logger = logger;
  }

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: DecisionListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: DecisionEvent): void {
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch (err) {
        this.#logger.error({ err }, 'egress decision listener threw');
      }
    }
  }
}
