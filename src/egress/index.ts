// Public surface of the egress proxy (issue 3): the proxy, its events, env and CA helpers.
// Internals (decide, resolve, tls parsing) are exported for reuse by tests and tools.
export { EgressProxy, type EgressProxyOptions, type OpenSessionOptions } from './egress-proxy.js';
export { EgressSession, type SessionStats } from './egress-session.js';
export { proxyEnv, type ProxyEnvOptions } from './proxy-env.js';
export { CertificateAuthority, type IssuedCertificate } from './ca.js';
export type { DecisionEvent, DecisionListener, EgressLogger } from './events.js';
export type { CredentialBinding } from './credentials.js';
export type { SessionLimits } from './limits.js';
export { DEFAULT_LIMITS } from './limits.js';
export { DENY_REASONS, type DenyReason } from './reasons.js';
export { classifyAddress, type AddressClass } from './ip-address.js';
export { compileNetworkPolicy, decideTarget, decideRequest } from './decide.js';
export type { LookupFn } from './resolve.js';
