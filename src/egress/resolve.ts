// DNS resolution with the SSRF guard: every answer must be public, and the proxy dials the
// exact address it checked (DNS pinning). The policy's static `resolve` map replaces DNS.
import { lookup as dnsLookup } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';
import { canonicalIp, classifyAddress } from './ip-address.js';
import type { CompiledNetworkPolicy } from './decide.js';
import type { Denial } from './reasons.js';
import type { Target } from './target.js';

/** `dns.lookup(host, { all: true })` shape; injectable for tests. */
export type LookupFn = (host: string) => Promise<readonly { address: string }[]>;

export const defaultLookup: LookupFn = (host) => dnsLookup(host, { all: true, verbatim: true });

export const DNS_TIMEOUT_MS = 5_000;
const OWN_ADDRESSES_TTL_MS = 1_000;
let ownCache: { at: number; set: ReadonlySet<string> } | undefined;

/** Canonical IPs of this host's interfaces (cached for a second). */
export function ownAddresses(now = Date.now()): ReadonlySet<string> {
  if (ownCache && now - ownCache.at < OWN_ADDRESSES_TTL_MS) return ownCache.set;
  const set = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) {
      const c = canonicalIp(info.address);
      if (c !== undefined) set.add(c);
    }
  }
  ownCache = { at: now, set };
  return set;
}

export type PinResult = { ok: true; ip: string } | { ok: false; denial: Denial };

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('dns timeout')), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves a checked target to the one IP to dial. Raw IPs are used as is, mapped names use
 * the policy map, other names use `lookup`. ALL answers must be public; else the whole
 * target is refused (mixed public/private answers deny).
 */
export async function resolvePinned(
  policy: CompiledNetworkPolicy,
  target: Target,
  lookup: LookupFn,
): Promise<PinResult> {
  let addresses: string[];
  if (target.isIp) addresses = [target.host];
  else {
    const mapped = policy.resolve.get(target.host);
    if (mapped !== undefined) addresses = [mapped];
    else {
      try {
        const answers = await withTimeout(lookup(target.host), DNS_TIMEOUT_MS);
        addresses = answers.map((a) => a.address);
      } catch {
        return { ok: false, denial: { reason: 'dns_failed' } };
      }
    }
  }
  if (addresses.length === 0) return { ok: false, denial: { reason: 'dns_failed' } };
  const own = ownAddresses();
  for (const ip of addresses) {
    const cls = classifyAddress(ip, own);
    if (cls !== undefined)
      return {
        ok: false,
        denial: { reason: 'ssrf_private_address', detail: cls.replace('_', ' ') },
      };
  }
  return { ok: true, ip: addresses[0] ?? '' };
}
