// Parses the target of a proxy request (absolute URL, CONNECT authority, Host header) and
// normalises the host exactly once; alternative IPv4 spellings and userinfo are refused here.
import { isIP } from 'node:net';
import { normaliseHost } from '../policy/host.js';
import { canonicalIp } from './ip-address.js';
import type { Denial } from './reasons.js';

/** A checked target: `host` is normalised (IPv6 without brackets), `isIp` marks literals. */
export interface Target {
  host: string;
  port: number;
  isIp: boolean;
}

export type TargetResult = { ok: true; target: Target } | { ok: false; denial: Denial };

function bad(detail: string): TargetResult {
  return { ok: false, denial: { reason: 'invalid_host', detail } };
}

/**
 * Normalises a host exactly once. Any IPv4 literal must already be in canonical dotted-quad
 * form: `2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1` are refused, not reinterpreted.
 */
export function normaliseTargetHost(raw: string): { host: string; isIp: boolean } | string {
  const bracketed = raw.startsWith('[') && raw.endsWith(']');
  const inner = bracketed ? raw.slice(1, -1) : raw;
  if (bracketed && isIP(inner) !== 6) return 'malformed IPv6 literal';
  const host = normaliseHost(raw);
  if (host === undefined) return 'malformed host name';
  const version = isIP(host);
  if (version === 4 && inner !== host) return 'non-canonical IPv4 spelling';
  if (version === 6) {
    const canonical = canonicalIp(host);
    if (canonical === undefined) return 'malformed IPv6 literal';
    return { host: host.toLowerCase(), isIp: true };
  }
  return { host, isIp: version === 4 };
}

/** Splits `host[:port]` / `[v6][:port]` and normalises; `defaultPort` when no port is given. */
export function parseAuthority(authority: string, defaultPort: number | undefined): TargetResult {
  if (authority.includes('@')) return bad('userinfo is not allowed');
  let hostText = authority;
  let portText: string | undefined;
  const v6 = /^(\[[^\]]*\])(?::([^:]*))?$/.exec(authority);
  if (v6) {
    hostText = v6[1] ?? '';
    portText = v6[2];
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon >= 0) {
      hostText = authority.slice(0, colon);
      portText = authority.slice(colon + 1);
    }
  }
  let port = defaultPort;
  if (portText !== undefined) {
    if (!/^[0-9]{1,5}$/.test(portText)) return bad('malformed port');
    port = Number(portText);
  }
  if (port === undefined || port < 1 || port > 65535) return bad('missing or invalid port');
  const host = normaliseTargetHost(hostText);
  if (typeof host === 'string') return bad(host);
  return { ok: true, target: { host: host.host, port, isIp: host.isIp } };
}

/** Splits an absolute-form `http://authority/path?query` request target. */
export function parseAbsoluteUrl(
  url: string,
): { ok: true; target: Target; path: string } | { ok: false; denial: Denial } {
  const m = /^http:\/\/([^/?#]*)([/?][^#]*)?$/i.exec(url);
  if (!m) return { ok: false, denial: { reason: 'invalid_request' } };
  const parsed = parseAuthority(m[1] ?? '', 80);
  if (!parsed.ok) return parsed;
  let path = m[2] ?? '/';
  if (path.startsWith('?')) path = `/${path}`;
  return { ok: true, target: parsed.target, path };
}

/** True when two checked targets name the same host and port. */
export function sameTarget(a: Target, b: Target): boolean {
  if (a.port !== b.port) return false;
  if (a.isIp && b.isIp) return canonicalIp(a.host) === canonicalIp(b.host);
  return a.host === b.host;
}
