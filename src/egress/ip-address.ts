// The SSRF guard's address classifier: which resolved IPs the egress proxy may never dial.
// Pure functions; IPv4-mapped and IPv4-embedded IPv6 forms are decoded and checked as IPv4.
import { isIP } from 'node:net';

/** Why an address is refused; `undefined` from `classifyAddress` means it is public. */
export type AddressClass =
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'link_local'
  | 'metadata'
  | 'cgnat'
  | 'multicast'
  | 'broadcast'
  | 'reserved'
  | 'ipv4_mapped'
  | 'own_address'
  | 'invalid';

type V4Range = readonly [base: number, prefix: number, cls: AddressClass];

// Order matters: the most specific class first (metadata inside link-local and CGNAT).
const V4_RANGES: readonly V4Range[] = [
  [v4('169.254.169.254'), 32, 'metadata'],
  [v4('100.100.100.200'), 32, 'metadata'],
  [v4('255.255.255.255'), 32, 'broadcast'],
  [v4('0.0.0.0'), 8, 'unspecified'],
  [v4('10.0.0.0'), 8, 'private'],
  [v4('100.64.0.0'), 10, 'cgnat'],
  [v4('127.0.0.0'), 8, 'loopback'],
  [v4('169.254.0.0'), 16, 'link_local'],
  [v4('172.16.0.0'), 12, 'private'],
  [v4('192.0.0.0'), 24, 'reserved'],
  [v4('192.168.0.0'), 16, 'private'],
  [v4('198.18.0.0'), 15, 'reserved'],
  [v4('224.0.0.0'), 4, 'multicast'],
  [v4('240.0.0.0'), 4, 'reserved'],
];

function v4(text: string): number {
  const n = parseIPv4(text);
  if (n === undefined) throw new Error(`bad IPv4 constant ${text}`);
  return n;
}

/** Parses canonical dotted-quad IPv4 only (no octal, hex or short forms) into a uint32. */
export function parseIPv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const b = Number(p);
    if (b > 255) return undefined;
    n = n * 256 + b;
  }
  return n;
}

/** Parses an IPv6 literal (zone id stripped, embedded dotted quad allowed) into 8 groups. */
export function parseIPv6(text: string): number[] | undefined {
  let s = text.toLowerCase();
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (isIP(s) !== 6) return undefined;
  const lastColon = s.lastIndexOf(':');
  const maybeV4 = s.slice(lastColon + 1);
  if (maybeV4.includes('.')) {
    const n = parseIPv4(maybeV4);
    if (n === undefined) return undefined;
    const hi = Math.floor(n / 65536).toString(16);
    s = `${s.slice(0, lastColon + 1)}${hi}:${(n % 65536).toString(16)}`;
  }
  const [headText, tailText] = s.includes('::') ? s.split('::', 2) : [s, undefined];
  const head = headText ? headText.split(':') : [];
  const rest = tailText ? tailText.split(':') : [];
  const fill = tailText === undefined ? 0 : 8 - head.length - rest.length;
  if (fill < 0) return undefined;
  const groups = [...head, ...Array<string>(fill).fill('0'), ...rest];
  if (groups.length !== 8) return undefined;
  const out = groups.map((g) => parseInt(g, 16));
  if (out.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) return undefined;
  return out;
}

/** Canonical text of an IP (IPv6 fully expanded, lower-case) for equality checks. */
export function canonicalIp(text: string): string | undefined {
  const host = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (parseIPv4(host) !== undefined) return host;
  const g = parseIPv6(host);
  return g?.map((x) => x.toString(16).padStart(4, '0')).join(':');
}

function classifyV4(n: number): AddressClass | undefined {
  for (const [base, prefix, cls] of V4_RANGES) {
    const size = 2 ** (32 - prefix);
    if (n >= base && n < base + size) return cls;
  }
  return undefined;
}

function v4FromGroups(hi: number, lo: number): number {
  return hi * 65536 + lo;
}

function classifyV6(g: number[]): AddressClass | undefined {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const firstSixZero = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (firstSixZero && g5 === 0 && g6 === 0 && g7 === 0) return 'unspecified';
  if (firstSixZero && g5 === 0 && g6 === 0 && g7 === 1) return 'loopback';
  // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible), ::ffff:0:a.b.c.d (SIIT): never dialled.
  const mapped = firstSixZero && (g5 === 0xffff || g5 === 0);
  const siit = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0xffff && g5 === 0;
  if (mapped || siit) return classifyV4(v4FromGroups(g6, g7)) ?? 'ipv4_mapped';
  // NAT64 (64:ff9b::/96, 64:ff9b:1::/48) and 6to4 (2002::/16): judged by the embedded IPv4.
  if (g0 === 0x64 && g1 === 0xff9b && (g2 === 1 || (g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0)))
    return g2 === 1 ? 'reserved' : classifyV4(v4FromGroups(g6, g7));
  if (g0 === 0x2002) return classifyV4(v4FromGroups(g1, g2));
  if (g0 === 0xfd00 && g1 === 0x0ec2 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0 && g6 === 0)
    return g7 === 0x254 ? 'metadata' : 'private';
  if (g0 === 0x2001 && g1 === 0) return 'reserved'; // Teredo hides an IPv4 address
  if (g0 === 0x0100 && g1 === 0 && g2 === 0 && g3 === 0) return 'reserved'; // discard-only
  if ((g0 & 0xfe00) === 0xfc00) return 'private';
  if ((g0 & 0xffc0) === 0xfe80) return 'link_local';
  if ((g0 & 0xffc0) === 0xfec0) return 'private'; // deprecated site-local
  if ((g0 & 0xff00) === 0xff00) return 'multicast';
  return undefined;
}

/**
 * Returns why `ip` must not be dialled, or `undefined` when it is a public address.
 * `ownAddresses` are canonical IPs (see `canonicalIp`) of the proxy host's interfaces.
 * @example classifyAddress('::ffff:127.0.0.1') === 'loopback'
 */
export function classifyAddress(
  ip: string,
  ownAddresses: ReadonlySet<string> = new Set(),
): AddressClass | undefined {
  const canonical = canonicalIp(ip);
  if (canonical === undefined) return 'invalid';
  const n4 = parseIPv4(canonical);
  const cls = n4 !== undefined ? classifyV4(n4) : classifyV6(parseIPv6(canonical) ?? []);
  if (cls !== undefined) return cls;
  return ownAddresses.has(canonical) ? 'own_address' : undefined;
}
