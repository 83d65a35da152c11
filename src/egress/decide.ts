// Pure egress decisions on a normalised target: deny list, blocked ports, allowlist with
// default ports, raw-IP listing, and per-host method/path rules. No I/O here.
import { networkPolicySchema, type NetworkPolicy } from '../policy/policy-schema.js';
import { normaliseHost, parseHostPattern, type HostPattern } from '../policy/host.js';
import { PolicyError } from '../errors.js';
import { canonicalIp } from './ip-address.js';
import type { Denial } from './reasons.js';
import type { Target } from './target.js';

export type ConnectionKind = 'connect' | 'http';

/** Default ports of patterns without one: 443 for CONNECT, 80 for plain HTTP. */
export const DEFAULT_PORT: Record<ConnectionKind, number> = { connect: 443, http: 80 };

interface Entry {
  text: string;
  pattern: HostPattern;
}

interface RuleEntry extends Entry {
  methods: readonly string[] | undefined;
  paths: readonly string[] | undefined;
}

/** A network policy validated and parsed once, ready for many decisions. */
export interface CompiledNetworkPolicy {
  readonly allow: readonly Entry[];
  readonly deny: readonly Entry[];
  readonly blockedPorts: ReadonlySet<number>;
  /** Normalised host → IP, used instead of DNS (still passes the SSRF guard). */
  readonly resolve: ReadonlyMap<string, string>;
  readonly rules: readonly RuleEntry[];
}

function entry(text: string): Entry {
  const pattern = parseHostPattern(text);
  if (typeof pattern === 'string') throw new PolicyError(pattern);
  return { text, pattern };
}

/** Validates (fail closed: throws `PolicyError`) and compiles a network policy. */
export function compileNetworkPolicy(policy: NetworkPolicy): CompiledNetworkPolicy {
  const parsed = networkPolicySchema.safeParse(policy);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new PolicyError(`invalid network policy: ${first?.path.join('.')}: ${first?.message}`);
  }
  const p = parsed.data;
  const resolve = new Map<string, string>();
  for (const [name, ip] of Object.entries(p.resolve)) {
    const host = normaliseHost(name);
    if (host === undefined) throw new PolicyError(`invalid host in resolve map: ${name}`);
    resolve.set(host, ip);
  }
  return Object.freeze({
    allow: p.allow.map(entry),
    deny: p.deny.map(entry),
    blockedPorts: new Set(p.blockedPorts),
    resolve,
    rules: Object.entries(p.rules).map(([text, r]) => ({
      ...entry(text),
      methods: r.methods,
      paths: r.paths,
    })),
  });
}

function hostPartMatches(pattern: HostPattern, target: Target): boolean {
  if (target.isIp)
    return !pattern.wildcard && canonicalIp(pattern.host) === canonicalIp(target.host);
  if (pattern.wildcard) return target.host.endsWith(`.${pattern.host}`);
  return target.host === pattern.host;
}

export type TargetDecision = { allowed: true; rule: string } | { allowed: false; denial: Denial };

/**
 * Decides a target: deny list first (a deny entry without port denies every port), then
 * blocked ports, then the allowlist (an entry without port means 443 for CONNECT, 80 for HTTP).
 * An empty allowlist denies everything.
 */
export function decideTarget(
  policy: CompiledNetworkPolicy,
  target: Target,
  kind: ConnectionKind,
): TargetDecision {
  for (const d of policy.deny) {
    const portOk = d.pattern.port === undefined || d.pattern.port === target.port;
    if (portOk && hostPartMatches(d.pattern, target))
      return { allowed: false, denial: { reason: 'host_denied' } };
  }
  if (policy.blockedPorts.has(target.port))
    return { allowed: false, denial: { reason: 'port_blocked' } };
  let hostListed = false;
  for (const a of policy.allow) {
    if (!hostPartMatches(a.pattern, target)) continue;
    hostListed = true;
    if ((a.pattern.port ?? DEFAULT_PORT[kind]) === target.port)
      return { allowed: true, rule: a.text };
  }
  if (hostListed) return { allowed: false, denial: { reason: 'port_not_allowed' } };
  return {
    allowed: false,
    denial: { reason: target.isIp ? 'raw_ip_not_allowed' : 'host_not_allowed' },
  };
}

/** Dot segments and encoded separators make prefix rules ambiguous; refuse them under rules. */
const AMBIGUOUS_PATH = /(^|\/)\.\.?(\/|$)|%2e|%2f|%5c|\\/i;

function pathAllowed(prefixes: readonly string[], rawPath: string): boolean {
  const path = rawPath.split('?', 1)[0] ?? '';
  if (AMBIGUOUS_PATH.test(path)) return false;
  return prefixes.some((prefix) => {
    if (path === prefix) return true;
    return path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`);
  });
}

/**
 * Applies the per-host method/path rules to one HTTP request (plain or inside terminated
 * TLS). Every matching rule must allow the request. No matching rule: allowed.
 */
export function decideRequest(
  policy: CompiledNetworkPolicy,
  target: Target,
  method: string,
  path: string,
): Denial | undefined {
  for (const r of policy.rules) {
    const portOk = r.pattern.port === undefined || r.pattern.port === target.port;
    if (!portOk || !hostPartMatches(r.pattern, target)) continue;
    if (r.methods && !r.methods.includes(method)) return { reason: 'method_not_allowed' };
    if (r.paths && !pathAllowed(r.paths, path)) return { reason: 'path_not_allowed' };
  }
  return undefined;
}
