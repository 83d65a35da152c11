// Stable reason codes of egress denials and the one-line answer the sandbox sees.
// Nothing of the request is ever echoed back: the body names the rule, not the input.

/** Every reason the proxy can refuse a connection or request for; codes are stable. */
export const DENY_REASONS = {
  host_not_allowed: [403, 'host not in allowlist'],
  host_denied: [403, 'host is on the deny list'],
  port_not_allowed: [403, 'port not allowed for this host'],
  port_blocked: [403, 'port is blocked'],
  raw_ip_not_allowed: [403, 'raw IP address not in allowlist'],
  invalid_host: [403, 'invalid or non-canonical host name'],
  invalid_request: [400, 'not a proxy request (use an absolute http:// URL or CONNECT)'],
  ssrf_private_address: [403, 'host resolves to an internal address'],
  dns_failed: [403, 'host name could not be resolved'],
  sni_mismatch: [403, 'TLS server name differs from the CONNECT host'],
  sni_missing: [403, 'TLS ClientHello without server name'],
  tls_required: [403, 'port 443 carries TLS only'],
  host_header_mismatch: [403, 'Host header differs from the requested host'],
  method_not_allowed: [403, 'method not allowed for this host'],
  path_not_allowed: [403, 'path not allowed for this host'],
  rate_limited: [429, 'too many new connections per second'],
  too_many_tunnels: [429, 'too many concurrent tunnels'],
  bytes_exceeded: [429, 'session transfer limit reached'],
  upstream_unreachable: [502, 'upstream connection failed'],
  session_closed: [403, 'session closed'],
  evaluation_error: [403, 'policy evaluation failed'],
} as const satisfies Record<string, readonly [number, string]>;

export type DenyReason = keyof typeof DENY_REASONS;

/** A refusal: the code plus an optional safe detail (never request data). */
export interface Denial {
  reason: DenyReason;
  /** Extra words for the body, e.g. the address class `loopback`; chosen by the proxy. */
  detail?: string;
}

export function denyStatus(reason: DenyReason): number {
  return DENY_REASONS[reason][0];
}

/** One line for the body: `blocked by ringfence egress policy: host not in allowlist`. */
export function denyMessage(denial: Denial): string {
  const text = DENY_REASONS[denial.reason][1];
  const detail = denial.detail === undefined ? '' : ` (${denial.detail})`;
  return `blocked by ringfence egress policy: ${text}${detail}\n`;
}

/** The raw HTTP/1.1 response written on a socket before any tunnel exists. */
export function rawDenyResponse(denial: Denial): string {
  const status = denyStatus(denial.reason);
  const body = denyMessage(denial);
  const phrase =
    status === 429
      ? 'Too Many Requests'
      : status === 400
        ? 'Bad Request'
        : status === 502
          ? 'Bad Gateway'
          : 'Forbidden';
  return (
    `HTTP/1.1 ${status} ${phrase}\r\nX-Proxy-Error: ${denial.reason}\r\n` +
    `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `Connection: close\r\n\r\n${body}`
  );
}
