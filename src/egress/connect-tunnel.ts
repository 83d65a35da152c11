// CONNECT tunnels: decide, resolve and pin, dial, then require SNI == CONNECT host before a
// byte reaches upstream. Credential-bound hosts are handed to TLS termination instead.
import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { bindingsFor } from './credentials.js';
import { decideTarget } from './decide.js';
import { MAX_CLIENT_HELLO_BYTES, parseClientHello } from './tls-client-hello.js';
import { rawDenyResponse, type Denial } from './reasons.js';
import { LEG_HEADER, RELAY_HEADER } from './relay-process.js';
import { resolvePinned } from './resolve.js';
import { emitDenied, relayMark, track, type SessionContext } from './session-context.js';
import { normaliseTargetHost, parseAuthority, type Target } from './target.js';
import type { TunnelInfo } from './http-forward.js';

export const CONNECT_TIMEOUT_MS = 10_000;
const ESTABLISHED = 'HTTP/1.1 200 Connection Established\r\n\r\n';
/** TLS alert: fatal unrecognized_name, sent when the SNI check fails after the 200. */
const ALERT_UNRECOGNIZED_NAME = Buffer.from([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x70]);

/** Hands a client socket (after the 200) to TLS termination for a credential-bound host. */
export type TerminateFn = (
  client: Socket,
  head: Buffer,
  tunnel: TunnelInfo,
  done: (denial?: Denial) => void,
) => void;

function refuse(
  ctx: SessionContext,
  socket: Socket,
  target: Partial<Target>,
  denial: Denial,
  startedAt: number,
  ip?: string,
): void {
  emitDenied(ctx, 'connect', target, denial, startedAt, { ip });
  socket.end(rawDenyResponse(denial));
}

/** Reads the first bytes of the tunnel until the ClientHello is complete (or clearly not TLS). */
function readClientHello(
  socket: Socket,
  head: Buffer,
): Promise<{ buf: Buffer; sni: string | undefined } | Denial | { notTls: Buffer }> {
  return new Promise((resolve) => {
    let buf = head;
    const check = (): boolean => {
      const r = parseClientHello(buf);
      if (r.status === 'need_more' && buf.length < MAX_CLIENT_HELLO_BYTES) return false;
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      if (r.status === 'ok') resolve({ buf, sni: r.serverName });
      else if (r.status === 'not_tls') resolve({ notTls: buf });
      else resolve({ reason: 'sni_missing', detail: 'malformed ClientHello' });
      return true;
    };
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      check();
    };
    const onClose = (): void =>
      resolve({ reason: 'sni_missing', detail: 'closed before ClientHello' });
    if (buf.length && check()) return;
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.resume();
  });
}

/** Checks a ClientHello's SNI against the CONNECT target. */
export function checkSni(target: Target, sni: string | undefined): Denial | undefined {
  if (sni === undefined) return target.isIp ? undefined : { reason: 'sni_missing' };
  const n = normaliseTargetHost(sni);
  if (typeof n === 'string' || n.isIp || n.host !== target.host) return { reason: 'sni_mismatch' };
  return undefined;
}

/** Reports how a tunnel ended (or why it was refused after its 200). */
type EmitEnd = (
  allowed: boolean,
  reason: string,
  bytesIn: number,
  bytesOut: number,
  terminated: boolean,
) => void;

/** Handles one CONNECT request arriving on the session socket. */
export async function handleConnect(
  ctx: SessionContext,
  req: IncomingMessage,
  client: Socket,
  head: Buffer,
  terminate: TerminateFn,
): Promise<void> {
  if (claimLeg(ctx, req, client, head)) return;
  const startedAt = Date.now();
  // read here, before any await: a connection's first request is the one the relay marks
  const mark = relayMark(ctx, req);
  track(ctx, client);
  client.on('error', () => client.destroy());
  const parsed = parseAuthority(req.url ?? '', undefined);
  if (!parsed.ok) return refuse(ctx, client, {}, parsed.denial, startedAt);
  const target = parsed.target;
  const decision = decideTarget(ctx.policy, target, 'connect');
  if (!decision.allowed) return refuse(ctx, client, target, decision.denial, startedAt);
  const limit = ctx.limiter.acquireTunnel();
  if (limit) return refuse(ctx, client, target, limit, startedAt);
  let released = false;
  const release = (): void => {
    if (!released) ctx.limiter.releaseTunnel();
    released = true;
  };
  client.once('close', release);
  const pinned = await resolvePinned(ctx.policy, target, ctx.lookup);
  if (!pinned.ok) return refuse(ctx, client, target, pinned.denial, startedAt);
  const ip = pinned.ip;
  const tunnel: TunnelInfo = { target, ip, rule: decision.rule };
  const emitEnd: EmitEnd = (allowed, reason, bytesIn, bytesOut, terminated) => {
    ctx.emitter.emit({
      sessionId: ctx.sessionId,
      host: target.host,
      port: target.port,
      ip,
      allowed,
      reason,
      rule: allowed ? decision.rule : undefined,
      bytesIn,
      bytesOut,
      durationMs: Date.now() - startedAt,
      kind: 'connect',
      injected: [],
      terminated,
    });
  };

  const viaRelay = mark?.first ? mark.conn : undefined;
  if (bindingsFor(ctx.bindings, target).length > 0) {
    // TLS termination needs the bytes here: a relay forwards the client's bytes again.
    if (viaRelay) viaRelay.relay.pass(viaRelay.id);
    client.write(ESTABLISHED);
    terminate(client, head, tunnel, (denial) => {
      if (denial) emitEnd(false, denial.reason, 0, 0, true);
      else emitEnd(true, 'allowed', 0, 0, true);
    });
    return;
  }

  if (viaRelay) {
    const { relay, id } = viaRelay;
    const errno = await relay.dial(id, ip, target.port);
    if (errno !== 0 || client.destroyed) {
      if (errno === 0) relay.drop(id);
      return refuse(ctx, client, target, { reason: 'upstream_unreachable' }, startedAt, ip);
    }
    const first = await acceptTunnel(client, head, target, () => relay.drop(id), emitEnd);
    if (!first) return;
    // The relay replays what was read since the 200 (the bytes checked above) and splices the
    // rest; this leg ends here and the tunnel's end is reported by the relay.
    client.off('close', release);
    let counted = 0;
    const count = (total: number): boolean => {
      const ok = ctx.limiter.addBytes(total - counted);
      counted = total;
      return ok;
    };
    ctx.spliced.add(id);
    relay.splice(id, ctx.limiter.limits.idleTimeoutMs, {
      onBytes: (bytesIn, bytesOut) => {
        if (!count(bytesIn + bytesOut)) relay.drop(id);
      },
      onEnd: (bytesIn, bytesOut) => {
        count(bytesIn + bytesOut);
        ctx.spliced.delete(id);
        release();
        emitEnd(true, 'allowed', bytesIn, bytesOut, false);
      },
    });
    client.end();
    return;
  }

  const upstream = connect({ host: ip, port: target.port });
  track(ctx, upstream);
  upstream.setTimeout(CONNECT_TIMEOUT_MS);
  upstream.on('error', () => upstream.destroy());
  const connected = await new Promise<boolean>((resolve) => {
    upstream.once('connect', () => resolve(true));
    upstream.once('close', () => resolve(false));
  });
  if (!connected || client.destroyed) {
    upstream.destroy();
    return refuse(ctx, client, target, { reason: 'upstream_unreachable' }, startedAt, ip);
  }
  upstream.setTimeout(ctx.limiter.limits.idleTimeoutMs);
  upstream.setNoDelay(true);
  const first = await acceptTunnel(client, head, target, () => upstream.destroy(), emitEnd);
  if (!first) return;
  pipeTunnel(ctx, client, upstream, first, (bytesIn, bytesOut) => {
    release();
    emitEnd(true, 'allowed', bytesIn, bytesOut, false);
  });
}

/**
 * A leg of the relay: its own new connection carrying a plain request's upstream (see relay.c),
 * `CONNECT leg` with the relay's mark and the UPSTREAM's nonce as its first two headers, on the
 * connection's first request. Handed to the waiting request; anything else, a client's CONNECT
 * with the same headers included (its nonce is never right), is an ordinary CONNECT.
 */
function claimLeg(
  ctx: SessionContext,
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
): boolean {
  const [mark, id, leg, nonce] = req.rawHeaders;
  if (!ctx.relay || req.url !== 'leg' || ctx.served.has(socket) || !id || !nonce) return false;
  if (mark?.toLowerCase() !== RELAY_HEADER || leg?.toLowerCase() !== LEG_HEADER) return false;
  if (!ctx.relay.claimLeg(id, nonce, socket)) return false;
  ctx.served.add(socket);
  socket.on('error', () => socket.destroy()); // between requests nothing else listens
  if (head.length) socket.unshift(head);
  return true;
}

/**
 * With the upstream leg up: answers 200 and checks the tunnel's first bytes. Returns them, or
 * undefined after closing both legs and reporting the refusal.
 */
async function acceptTunnel(
  client: Socket,
  head: Buffer,
  target: Target,
  closeUpstream: () => void,
  emitEnd: EmitEnd,
): Promise<Buffer | undefined> {
  client.setNoDelay(true);
  client.write(ESTABLISHED);
  const start = await tunnelStart(client, head, target);
  if (start.ok) return start.first;
  closeUpstream();
  if (start.alert) client.end(ALERT_UNRECOGNIZED_NAME);
  else client.destroy();
  emitEnd(false, start.reason, 0, 0, false);
  return undefined;
}

type TunnelStart =
  | { ok: true; first: Buffer }
  | { ok: false; reason: string; /** answer with a TLS alert (SNI refused) */ alert: boolean };

/** After the 200: the first bytes must be a ClientHello naming the CONNECT host (TLS on 443). */
async function tunnelStart(client: Socket, head: Buffer, target: Target): Promise<TunnelStart> {
  const hello = await readClientHello(client, head);
  if ('notTls' in hello) {
    if (target.port === 443) return { ok: false, reason: 'tls_required', alert: false };
    return { ok: true, first: hello.notTls }; // a non-TLS protocol on a listed port other than 443
  }
  if ('reason' in hello) return { ok: false, reason: hello.reason, alert: false };
  const sniDenial = checkSni(target, hello.sni);
  if (sniDenial) return { ok: false, reason: sniDenial.reason, alert: true };
  return { ok: true, first: hello.buf };
}

function pipeTunnel(
  ctx: SessionContext,
  client: Socket,
  upstream: Socket,
  first: Buffer,
  done: (bytesIn: number, bytesOut: number) => void,
): void {
  let bytesIn = 0;
  let bytesOut = first.length;
  let finished = false;
  const onClose = (): void => {
    client.destroy();
    upstream.destroy();
    if (!finished) done(bytesIn, bytesOut);
    finished = true;
  };
  if (first.length) upstream.write(first);
  ctx.limiter.addBytes(first.length);
  client.on('data', (chunk: Buffer) => {
    bytesOut += chunk.length;
    if (!ctx.limiter.addBytes(chunk.length)) onClose();
    else if (!upstream.write(chunk)) client.pause();
  });
  upstream.on('drain', () => client.resume());
  upstream.on('data', (chunk: Buffer) => {
    bytesIn += chunk.length;
    if (!ctx.limiter.addBytes(chunk.length)) onClose();
    else if (!client.write(chunk)) upstream.pause();
  });
  client.on('drain', () => upstream.resume());
  client.on('end', () => upstream.end());
  upstream.on('end', () => client.end());
  client.once('close', onClose);
  upstream.once('close', onClose);
  client.resume();
}
