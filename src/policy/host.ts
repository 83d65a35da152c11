// Host-name normalisation and allowlist matching: pure functions, no I/O.
// Normalise once (lowercase, trailing dot, IDNA, odd dots), then match whole hosts only.
import { domainToASCII } from 'node:url';
import { isIP } from 'node:net';

/** Dots that some parsers treat as '.', rejected rather than guessed at. */
const ODD_DOTS = /[\u3002\uff0e\uff61]/;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * Returns the canonical form of a host name or IP literal, or `undefined` when it is not a
 * well-formed host (control bytes, odd dots, empty or over-long labels, userinfo...).
 * @example normaliseHost('API.Example.COM.') === 'api.example.com'
 */
export function normaliseHost(input: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (input.length === 0 || input.length > 253 + 2 || /[\x00-\x20\x7f]/.test(input))
    return undefined;
  if (ODD_DOTS.test(input) || /[@/\\#?%]/.test(input)) return undefined;
  let host = input;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (isIP(host) === 6) return host.toLowerCase();
  if (host.endsWith('.')) host = host.slice(0, -1);
  const ascii = domainToASCII(host.toLowerCase());
  if (!ascii || ascii.length > 253) return undefined;
  // The URL host parser turns 2130706433, 0x7f.1, 0177.0.0.1 and 127.1 into 127.0.0.1: only the
  // canonical dotted-quad spelling is accepted as an IPv4 literal, every other spelling is refused.
  if (isIP(ascii) === 4) return ascii === host.toLowerCase() ? ascii : undefined;
  const labels = ascii.split('.');
  if (!labels.every((l) => LABEL.test(l))) return undefined;
  // All-numeric last label would make strings like "0x7f.1" look like names; refuse them.
  if (/^(0x[0-9a-f]*|[0-9]+)$/.test(labels[labels.length - 1] ?? '')) return undefined;
  return ascii;
}

export interface HostPattern {
  /** Normalised host, without the `*.` prefix when `wildcard` is set. */
  host: string;
  /** `*.x` matches strict subdomains of x, never x itself. */
  wildcard: boolean;
  /** Undefined means the default port of the protocol (443 for CONNECT, 80 for plain HTTP). */
  port: number | undefined;
}

/**
 * Parses an allow or deny entry `host[:port]`, `*.host[:port]`, `1.2.3.4[:port]`, `[::1]:port`.
 * Returns an error message instead of a pattern when the entry is unsafe or malformed.
 */
export function parseHostPattern(entry: string): HostPattern | string {
  let rest = entry.trim();
  let port: number | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  if (v6) {
    rest = v6[1] ?? '';
    if (v6[2] !== undefined) port = Number(v6[2]);
  } else {
    const m = /^(.*):(\d+)$/.exec(rest);
    if (m) {
      rest = m[1] ?? '';
      port = Number(m[2]);
    }
  }
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
    return `invalid port in "${entry}"`;
  }
  if (rest === '*' || rest === '')
    return `"${entry}" would allow every host; list hosts explicitly`;
  let wildcard = false;
  if (rest.startsWith('*.')) {
    wildcard = true;
    rest = rest.slice(2);
  }
  if (rest.includes('*')) return `"${entry}": only a leading "*." wildcard is supported`;
  const host = normaliseHost(rest);
  if (!host) return `"${entry}" is not a valid host name or IP address`;
  if (wildcard) {
    if (isIP(host)) return `"${entry}": a wildcard cannot apply to an IP address`;
    if (!host.includes('.'))
      return `"${entry}" is too broad: a wildcard needs at least two labels after "*."`;
  }
  return { host, wildcard, port };
}

/** True when `host` (already normalised) on `port` matches the pattern. */
export function hostMatches(
  pattern: HostPattern,
  host: string,
  port: number,
  defaultPort: number,
): boolean {
  const wantPort = pattern.port ?? defaultPort;
  if (wantPort !== port) return false;
  if (pattern.wildcard) return host.endsWith(`.${pattern.host}`);
  return host === pattern.host;
}
