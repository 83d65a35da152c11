// Plain HTTP forward requests and requests inside terminated TLS: every request is decided
// on its own (Host re-checked, method/path rules), credentials injected only toward bound hosts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { pipeline, type Readable, type Transform, type Writable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { bindingsFor, type CompiledBinding } from './credentials.js';
import { decideRequest, decideTarget } from './decide.js';
import { RedactStream, redactText } from './redact.js';
import { denyMessage, denyStatus, type Denial } from './reasons.js';
import { CarriedRequest, inTurn } from './relay-http.js';
import { LEG_HEADER, RELAY_HEADER } from './relay-process.js';
import { resolvePinned } from './resolve.js';
import {
  emitDenied,
  track,
  type RelayedConnection,
  type SessionContext,
} from './session-context.js';
import { parseAbsoluteUrl, parseAuthority, sameTarget, type Target } from './target.js';

const HOP_BY_HOP = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // the relay's own headers never go upstream (on a first request: the relay's mark)
  RELAY_HEADER,
  LEG_HEADER,
]);

/** Idle upstream keep-alive sockets close after this (below the common 5 s server default). */
export const UPSTREAM_KEEPALIVE_MS = 4_000;
const agents = new WeakMap<SessionContext, HttpAgent>();

/**
 * One keep-alive agent per session for plain-HTTP upstreams: pooled by pinned IP and port, never
 * shared across sessions. Every request is still decided, Host-checked and rate-counted first.
 */
function agentFor(ctx: SessionContext): HttpAgent {
  let agent = agents.get(ctx);
  if (!agent) {
    agent = new HttpAgent({
      keepAlive: true,
      maxFreeSockets: 16,
      timeout: UPSTREAM_KEEPALIVE_MS,
      scheduling: 'lifo',
    });
    agents.set(ctx, agent);
  }
  return agent;
}

/** Registers an upstream socket once (keep-alive sockets are reused) and disables Nagle. */
function trackUpstream(ctx: SessionContext, socket: Socket): void {
  if (ctx.sockets.has(socket)) return;
  socket.setNoDelay(true);
  track(ctx, socket);
}

/** For requests inside a terminated tunnel: the tunnel's checked target and pinned IP. */
export interface TunnelInfo {
  target: Target;
  ip: string;
  rule: string;
}

function writeDeny(res: ServerResponse, denial: Denial): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = denyMessage(denial);
  res.writeHead(denyStatus(denial.reason), {
    'X-Proxy-Error': denial.reason,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function hostHeader(target: Target, defaultPort: number): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return target.port === defaultPort ? host : `${host}:${target.port}`;
}

function filterHeaders(raw: readonly string[], drop: ReadonlySet<string>): string[] {
  const out: string[] = [];
  const connectionListed = new Set<string>();
  for (let i = 0; i < raw.length; i += 2)
    if (raw[i]?.toLowerCase() === 'connection')
      for (const t of (raw[i + 1] ?? '').split(',')) connectionListed.add(t.trim().toLowerCase());
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] ?? '').toLowerCase();
    if (HOP_BY_HOP.has(name) || connectionListed.has(name) || drop.has(name)) continue;
    out.push(raw[i] ?? '', raw[i + 1] ?? '');
  }
  return out;
}

/**
 * Counts the bytes of `source` (a 'data' listener, no Transform stage in the hot path) and
 * destroys it with an error once the session cap is reached; that chunk is not forwarded.
 */
function countBytes(ctx: SessionContext, source: Readable, onBytes: (n: number) => void): void {
  source.prependListener('data', (chunk: Buffer) => {
    onBytes(chunk.length);
    if (!ctx.limiter.addBytes(chunk.length)) {
      source.pause();
      source.destroy(new Error('session byte limit reached'));
    }
  });
}

/** `source.pipe(sink)` that drops chunks once `source` is destroyed (the byte cap). */
function forward(source: Readable, sink: Writable, done: (err?: Error) => void): void {
  let ended = false;
  const finish = (err?: Error): void => {
    if (ended) return;
    ended = true;
    done(err);
  };
  source.on('data', (chunk: Buffer) => {
    if (source.destroyed) return;
    if (!sink.write(chunk)) source.pause();
  });
  sink.on('drain', () => source.resume());
  source.once('end', () => {
    sink.end();
  });
  source.once('error', (err) => {
    sink.destroy();
    finish(err);
  });
  source.once('close', () => {
    if (!source.readableEnded) sink.destroy();
  });
  sink.once('error', (err) => {
    source.destroy();
    finish(err);
  });
  sink.once('close', () => {
    if (!source.readableEnded) source.destroy();
    finish(sink.writableFinished ? undefined : new Error('closed early'));
  });
  sink.once('finish', () => finish());
}

function decoderFor(encoding: string | undefined): Transform | undefined {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      return undefined;
  }
}

/**
 * Handles one absolute-form `http://` request arriving on the session socket. `relayed`: the
 * client connection is the relay's, which then carries the request upstream (in turn).
 */
export function handlePlainRequest(
  ctx: SessionContext,
  req: IncomingMessage,
  res: ServerResponse,
  relayed?: RelayedConnection,
): Promise<void> {
  if (!relayed) return decidePlain(ctx, req, res);
  return inTurn(relayed, req, res, () => decidePlain(ctx, req, res, relayed));
}

async function decidePlain(
  ctx: SessionContext,
  req: IncomingMessage,
  res: ServerResponse,
  relayed?: RelayedConnection,
): Promise<void> {
  const startedAt = Date.now();
  const url = req.url ?? '';
  const parsed = parseAbsoluteUrl(url);
  if (!parsed.ok) return deny(ctx, res, {}, parsed.denial, startedAt);
  const { target, path } = parsed;
  const hostCheck = checkHostHeader(req, target, 80);
  if (hostCheck) return deny(ctx, res, target, hostCheck, startedAt);
  const decision = decideTarget(ctx.policy, target, 'http');
  if (!decision.allowed) return deny(ctx, res, target, decision.denial, startedAt);
  const ruleDenial = decideRequest(ctx.policy, target, req.method ?? 'GET', path);
  if (ruleDenial) return deny(ctx, res, target, ruleDenial, startedAt);
  const limit = ctx.limiter.newConnection();
  if (limit) return deny(ctx, res, target, limit, startedAt);
  const pinned = await resolvePinned(ctx.policy, target, ctx.lookup);
  if (!pinned.ok) return deny(ctx, res, target, pinned.denial, startedAt);
  const tunnel = { target, ip: pinned.ip, rule: decision.rule };
  await send(ctx, req, res, tunnel, path, false, startedAt, relayed);
}

/** Handles one request inside a TLS tunnel the proxy terminated (credential-bound host). */
export function handleTerminatedRequest(
  ctx: SessionContext,
  tunnel: TunnelInfo,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const startedAt = Date.now();
  const path = req.url ?? '';
  const extra = { ip: tunnel.ip, terminated: true };
  if (!path.startsWith('/'))
    return deny(ctx, res, tunnel.target, { reason: 'invalid_request' }, startedAt, extra);
  const hostCheck = checkHostHeader(req, tunnel.target, 443);
  if (hostCheck) return deny(ctx, res, tunnel.target, hostCheck, startedAt, extra);
  const ruleDenial = decideRequest(ctx.policy, tunnel.target, req.method ?? 'GET', path);
  if (ruleDenial) return deny(ctx, res, tunnel.target, ruleDenial, startedAt, extra);
  const limit = ctx.limiter.newConnection();
  if (limit) return deny(ctx, res, tunnel.target, limit, startedAt, extra);
  void send(ctx, req, res, tunnel, path, true, startedAt);
}

function deny(
  ctx: SessionContext,
  res: ServerResponse,
  target: Partial<Target>,
  denial: Denial,
  startedAt: number,
  extra: { ip?: string; terminated?: boolean } = {},
): void {
  emitDenied(ctx, 'http', target, denial, startedAt, extra);
  writeDeny(res, denial);
}

function checkHostHeader(
  req: IncomingMessage,
  target: Target,
  defaultPort: number,
): Denial | undefined {
  const values = req.headersDistinct.host ?? [];
  if (values.length !== 1) return { reason: 'host_header_mismatch' };
  const parsed = parseAuthority(values[0] ?? '', defaultPort);
  if (!parsed.ok || !sameTarget(parsed.target, target)) return { reason: 'host_header_mismatch' };
  return undefined;
}

function injectedHeaders(bound: readonly CompiledBinding[]): string[] {
  const out: string[] = [];
  for (const b of bound) out.push(b.header, b.headerValue);
  if (bound.length > 0) out.push('accept-encoding', 'identity');
  return out;
}

async function send(
  ctx: SessionContext,
  req: IncomingMessage,
  res: ServerResponse,
  tunnel: TunnelInfo,
  path: string,
  tls: boolean,
  startedAt: number,
  relayed?: RelayedConnection,
): Promise<void> {
  const { target, ip } = tunnel;
  const bound = bindingsFor(ctx.bindings, target);
  const drop = new Set([
    'host',
    ...bound.map((b) => b.header),
    ...(bound.length ? ['accept-encoding'] : []),
  ]);
  const headers = [
    'Host',
    hostHeader(target, tls ? 443 : 80),
    ...filterHeaders(req.rawHeaders, drop),
    ...injectedHeaders(bound),
  ];
  let bytesIn = 0;
  let bytesOut = 0;
  let finished = false;
  const finish = (allowed: boolean, reason: string): void => {
    if (finished) return;
    finished = true;
    ctx.emitter.emit({
      sessionId: ctx.sessionId,
      host: target.host,
      port: target.port,
      ip,
      allowed,
      reason,
      rule: tunnel.rule,
      bytesIn,
      bytesOut,
      durationMs: Date.now() - startedAt,
      kind: 'http',
      injected: bound.map((b) => b.name),
      terminated: tls,
    });
  };
  // The relay carries the request when the proxy needs none of the response's bytes (no
  // credential bound): its leg to the pinned address, kept from the connection's last request or
  // dialled now, stands for the upstream socket.
  const viaRelay = !tls && bound.length === 0 ? relayed : undefined;
  let carried: CarriedRequest | undefined;
  res.once('close', () => {
    carried?.giveUp();
    if (!carried?.spliced) finish(true, 'allowed'); // a spliced body reports at its end
  });
  // `again`: the first try went on a kept connection that upstream closed before answering
  const attempt = async (again: boolean): Promise<void> => {
    const opened =
      viaRelay && (await CarriedRequest.open(ctx, viaRelay, { ip, port: target.port }, req, res));
    if (opened === 'unreachable') {
      finish(false, 'upstream_unreachable');
      return writeDeny(res, { reason: 'upstream_unreachable' });
    }
    carried = opened || undefined; // undefined: the proxy carries it itself
    const leg = carried;
    const options = {
      host: ip,
      port: target.port,
      method: req.method ?? 'GET',
      path,
      // the leg may serve the connection's next request
      headers: leg ? [...headers, 'Connection', 'keep-alive'] : headers,
      setHost: false,
    };
    const upstream = tls
      ? httpsRequest({
          ...options,
          ...(target.isIp ? {} : { servername: target.host }),
          ...(ctx.upstreamCa.length ? { ca: [...rootCertificates, ...ctx.upstreamCa] } : {}),
          rejectUnauthorized: true,
          agent: false,
        })
      : leg
        ? httpRequest({ ...options, createConnection: () => leg.view })
        : httpRequest({ ...options, agent: ctx.closed ? false : agentFor(ctx) });
    // a leg is a session connection: tracked, with the session's idle timeout, since it came in
    if (!leg) {
      upstream.setTimeout(ctx.limiter.limits.idleTimeoutMs, () =>
        upstream.destroy(new Error('idle')),
      );
      upstream.on('socket', (s) => trackUpstream(ctx, s));
    }
    let responded = false;
    upstream.on('error', (err) => {
      leg?.giveUp();
      ctx.logger.debug({ sessionId: ctx.sessionId, err: err.message }, 'upstream error');
      const reused = leg ? leg.reused : upstream.reusedSocket;
      if (!again && !responded && reused && replayable(req) && !res.destroyed && lost(err)) {
        // what any HTTP client does for a request it may send twice (RFC 9110 9.2.2)
        ctx.logger.debug({ sessionId: ctx.sessionId }, 'kept upstream closed: sending again');
        return void attempt(true);
      }
      if (!res.headersSent) {
        finish(false, 'upstream_unreachable');
        writeDeny(res, { reason: 'upstream_unreachable' });
      } else {
        finish(true, 'allowed');
        res.destroy();
      }
    });
    upstream.on('response', (up) => {
      responded = true;
      const targets = bound.map((b) => ({ name: b.name, value: b.value }));
      const decoder = targets.length ? decoderFor(up.headers['content-encoding']) : undefined;
      const dropResp = new Set(
        targets.length ? ['content-length', ...(decoder ? ['content-encoding'] : [])] : [],
      );
      let respHeaders = filterHeaders(up.rawHeaders, dropResp);
      if (targets.length)
        respHeaders = respHeaders.map((v, i) => (i % 2 ? redactText(v, targets) : v));
      const spliced = leg?.answer(upstream, up, respHeaders, (carriedIn, why) => {
        bytesIn = carriedIn;
        if (why === 'bytes_exceeded') finish(false, why);
        else finish(true, 'allowed');
      });
      if (spliced) return;
      res.writeHead(up.statusCode ?? 502, respHeaders);
      countBytes(ctx, up, (n) => (bytesIn += n));
      const onDone = (err?: Error): void => {
        if (err) res.destroy();
        finish(true, 'allowed');
      };
      if (!decoder && !targets.length) return forward(up, res, onDone);
      const stages: (NodeJS.ReadableStream | NodeJS.WritableStream)[] = [up];
      if (decoder) stages.push(decoder);
      if (targets.length) stages.push(new RedactStream(targets));
      stages.push(res);
      pipeline(stages as unknown as [NodeJS.ReadableStream, NodeJS.WritableStream], (err) =>
        onDone(err ?? undefined),
      );
    });
    if (again) return void upstream.end(); // the request had no body
    countBytes(ctx, req, (n) => (bytesOut += n));
    forward(req, upstream, (err) => {
      if (err) upstream.destroy();
    });
  };
  await attempt(false);
}

const SAFE_TO_RESEND = new Set(['GET', 'HEAD', 'OPTIONS']);

/** A request that may go upstream a second time: idempotent, no body, all of it received. */
function replayable(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (
    SAFE_TO_RESEND.has(req.method ?? '') &&
    (length === undefined || length === '0') &&
    req.headers['transfer-encoding'] === undefined &&
    req.complete
  );
}

/** The connection went away under the request (not a timeout, TLS or protocol failure). */
function lost(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}
