// What every handler of one session shares: compiled policy, bindings, limits, the emitter,
// and the set of live sockets so that closing the session closes everything it opened.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { CertificateAuthority } from './ca.js';
import type { CompiledBinding } from './credentials.js';
import type { CompiledNetworkPolicy, ConnectionKind } from './decide.js';
import type { DecisionEmitter, EgressLogger } from './events.js';
import type { SessionLimiter } from './limits.js';
import type { Denial } from './reasons.js';
import { RELAY_HEADER, type RelayLink } from './relay-process.js';
import type { LookupFn } from './resolve.js';
import type { Target } from './target.js';

/** A client connection whose first request the relay marked: its relay and connection id. */
export interface RelayedConnection {
  readonly relay: RelayLink;
  readonly id: string;
  /**
   * Settles once the connection's latest request is answered. Its requests take turns: the relay
   * holds one upstream per connection, and a body it splices must land after the right head.
   */
  turn: Promise<void>;
}

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
   * The session's trusted relay (the C relay outside the sandbox), when one is attached: the
   * connections it marks have their tunnels and plain responses' bodies moved by it. Only the
   * relay can reach the session socket then, so its mark cannot be forged from inside the sandbox.
   */
  relay?: RelayLink | undefined;
  /**
   * Client connections that already carried a request: the relay marks only a connection's first
   * request, so a mark on a later one was written by the client and is ignored.
   */
  readonly served: WeakSet<Socket>;
  /** The client connections the relay marked (their later requests are unmarked). */
  readonly relayed: WeakMap<Socket, RelayedConnection>;
  /** Relay connection ids of this session's spliced tunnels and bodies (dropped at close). */
  readonly spliced: Set<string>;
  closed: boolean;
}

/** Registers a socket for session teardown and the idle timeout. */
export function track(ctx: SessionContext, socket: Socket): void {
  ctx.sockets.add(socket);
  socket.setTimeout(ctx.limiter.limits.idleTimeoutMs, () => socket.destroy());
  socket.once('close', () => ctx.sockets.delete(socket));
}

/**
 * The relay's mark on `req`, honoured only as the first header of a connection's first request
 * on a session with a relay; a later request of a marked connection gets its record back.
 */
export function relayMark(
  ctx: SessionContext,
  req: IncomingMessage,
): { conn: RelayedConnection; first: boolean } | undefined {
  const socket = req.socket;
  if (ctx.served.has(socket)) {
    const conn = ctx.relayed.get(socket);
    return conn && { conn, first: false };
  }
  ctx.served.add(socket);
  const relay = ctx.relay;
  const [name, value] = req.rawHeaders;
  if (!relay || name?.toLowerCase() !== RELAY_HEADER || !value || !/^\d{1,19}$/.test(value))
    return undefined;
  const conn: RelayedConnection = { relay, id: value, turn: Promise.resolve() };
  ctx.relayed.set(socket, conn);
  return { conn, first: true };
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
