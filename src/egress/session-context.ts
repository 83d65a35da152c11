// What every handler of one session shares: compiled policy, bindings, limits, the emitter,
// and the set of live sockets so that closing the session closes everything it opened.
import type { Socket } from 'node:net';
import type { CertificateAuthority } from './ca.js';
import type { CompiledBinding } from './credentials.js';
import type { CompiledNetworkPolicy, ConnectionKind } from './decide.js';
import type { DecisionEmitter, EgressLogger } from './events.js';
import type { SessionLimiter } from './limits.js';
import type { Denial } from './reasons.js';
import type { RelayLink } from './relay-process.js';
import type { LookupFn } from './resolve.js';
import type { Target } from './target.js';

export interface SessionContext {
  readonly sessionId: string;
  readonly policy: CompiledNetworkPolicy;
  readonly bindings: readonly CompiledBinding[];
  readonly limiter: SessionLimiter;
  readonly lookup: LookupFn;
  readonly ca: CertificateAuthority | undefined;
  /** Extra CAs trusted for upstream TLS (besides the system roots), e.g. in tests. */
  readonly upstreamCa: readonly string[];
  readonly emitter: DecisionEmitter;
  readonly logger: EgressLogger;
  readonly sockets: Set<Socket>;
  /**
   * The session's trusted relay (the C relay outside the sandbox), when one is attached: CONNECT
   * requests it marks are dialled and spliced by it. Only the relay can reach the session socket
   * then, so its mark cannot be forged from inside the sandbox.
   */
  relay?: RelayLink | undefined;
  /**
   * Client connections that already carried a request: the relay marks only a connection's first
   * request (a CONNECT), so a mark on a later one was written by the client and is ignored.
   */
  readonly served: WeakSet<Socket>;
  /** Relay connection ids of this session's spliced tunnels (dropped when the session closes). */
  readonly spliced: Set<string>;
  closed: boolean;
}

/** Registers a socket for session teardown and the idle timeout. */
export function track(ctx: SessionContext, socket: Socket): void {
  ctx.sockets.add(socket);
  socket.setTimeout(ctx.limiter.limits.idleTimeoutMs, () => socket.destroy());
  socket.once('close', () => ctx.sockets.delete(socket));
}

/** Emits the event of a refusal (bytes 0, no rule). */
export function emitDenied(
  ctx: SessionContext,
  kind: ConnectionKind,
  target: Partial<Target>,
  denial: Denial,
  startedAt: number,
  extra: { ip?: string | undefined; terminated?: boolean } = {},
): void {
  ctx.logger.debug(
    { sessionId: ctx.sessionId, reason: denial.reason, host: target.host },
    'egress denied',
  );
  ctx.emitter.emit({
    sessionId: ctx.sessionId,
    host: target.host ?? '',
    port: target.port ?? 0,
    ip: extra.ip,
    allowed: false,
    reason: denial.reason,
    rule: undefined,
    bytesIn: 0,
    bytesOut: 0,
    durationMs: Date.now() - startedAt,
    kind,
    injected: [],
    terminated: extra.terminated ?? false,
  });
}
