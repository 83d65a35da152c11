// The egress proxy: one per deployment, one listening unix socket per session. The only way
// out of a sandbox; every connection is decided, pinned, limited and reported as an event.
import { RingfenceError } from '../errors.js';
import type { NetworkPolicy } from '../policy/policy-schema.js';
import type { CertificateAuthority } from './ca.js';
import { compileBindings, type CredentialBinding } from './credentials.js';
import { compileNetworkPolicy } from './decide.js';
import { EgressSession } from './egress-session.js';
import {
  DecisionEmitter,
  silentLogger,
  type DecisionListener,
  type EgressLogger,
} from './events.js';
import { DEFAULT_LIMITS, SessionLimiter, type SessionLimits } from './limits.js';
import { defaultLookup, type LookupFn } from './resolve.js';

export interface EgressProxyOptions {
  /** The deployment CA; required for sessions with credential bindings (TLS termination). */
  ca?: CertificateAuthority;
  /** Extra PEM CAs trusted for upstream TLS besides the system roots (tests, private PKI). */
  upstreamCa?: readonly string[];
  /** Defaults for every session's limits. */
  limits?: Partial<SessionLimits>;
  /** Name resolution (`dns.lookup` all answers by default). */
  lookup?: LookupFn;
  logger?: EgressLogger;
}

export interface OpenSessionOptions {
  sessionId: string;
  policy: NetworkPolicy;
  /** Already-resolved secrets and the hosts they are injected toward. Absent: none. */
  secrets?: readonly CredentialBinding[];
  /** Where to listen; its directory should be 0700 and owned by the platform. */
  socketPath: string;
  /** Overrides of the proxy's default limits for this session. */
  limits?: Partial<SessionLimits>;
}

/**
 * @example
 * const proxy = new EgressProxy({ ca });
 * const s = await proxy.openSession({ sessionId, policy, socketPath: '/run/rf/s1.sock' });
 * const stop = proxy.subscribe((ev) => audit.append(ev));
 */
export class EgressProxy {
  readonly #options: Readonly<EgressProxyOptions>;
  readonly #emitter: DecisionEmitter;
  readonly #logger: EgressLogger;
  readonly #sessions = new Map<string, EgressSession>();
  #closing: Promise<void> | undefined;

  constructor(options: EgressProxyOptions = {}) {
    this.#options = Object.freeze({ ...options });
    this.#logger = options.logger ?? silentLogger;
    this.#emitter = new DecisionEmitter(this.#logger);
  }

  /** The extra CAs trusted for upstream TLS (the sandbox's trust bundle carries them too). */
  get upstreamCa(): readonly string[] {
    return this.#options.upstreamCa ?? [];
  }

  /** Adds a decision listener; returns the function that removes it. */
  subscribe(listener: DecisionListener): () => void {
    return this.#emitter.subscribe(listener);
  }

  /** EventEmitter-style alias of `subscribe`. */
  on(event: 'decision', listener: DecisionListener): () => void {
    if (event !== 'decision') throw new TypeError(`unknown event ${String(event)}`);
    return this.subscribe(listener);
  }

  /** Opens a session socket. Invalid policy or bindings throw `PolicyError` (fail closed). */
  async openSession(options: OpenSessionOptions): Promise<EgressSession> {
    if (this.#closing) throw new RingfenceError('conflict', 'egress proxy is closed');
    if (!options.sessionId) throw new RingfenceError('invalid_request', 'sessionId is required');
    if (this.#sessions.has(options.sessionId))
      throw new RingfenceError('conflict', `egress session ${options.sessionId} is already open`);
    const policy = compileNetworkPolicy(options.policy);
    const bindings = compileBindings(options.secrets ?? []);
    if (bindings.length > 0 && !this.#options.ca)
      throw new RingfenceError('invalid_request', 'credential bindings need an egress CA');
    const limits: SessionLimits = { ...DEFAULT_LIMITS, ...this.#options.limits, ...options.limits };
    const session = await EgressSession.open(
      {
        sessionId: options.sessionId,
        policy,
        bindings,
        limiter: new SessionLimiter(limits),
        lookup: this.#options.lookup ?? defaultLookup,
        ca: this.#options.ca,
        upstreamCa: this.#options.upstreamCa ?? [],
        emitter: this.#emitter,
        logger: this.#logger,
        sockets: new Set(),
        spliced: new Set(),
        served: new WeakSet(),
        relayed: new WeakMap(),
        closed: false,
      },
      options.socketPath,
      () => this.#sessions.delete(options.sessionId),
    );
    this.#sessions.set(options.sessionId, session);
    return session;
  }

  /** Closes every session (each cleanup runs even when another fails). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= Promise.allSettled([...this.#sessions.values()].map((s) => s.close())).then(
      () => undefined,
    );
    return this.#closing;
  }
}
