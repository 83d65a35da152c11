// The one error root of ringfence: every failure carries a stable `code`, a cause and fields.
// The API edge maps these to HTTP status with `httpStatusOf`.

export type ErrorCode =
  | 'config_invalid'
  | 'policy_invalid'
  | 'policy_denied'
  | 'sandbox_unavailable'
  | 'sandbox_failed'
  | 'sandbox_destroyed'
  | 'path_escape'
  | 'egress_denied'
  | 'model_error'
  | 'audit_failed'
  | 'not_found'
  | 'invalid_request'
  | 'unauthorized'
  | 'forbidden'
  | 'rate_limited'
  | 'conflict'
  | 'internal';

export interface RingfenceErrorOptions {
  cause?: unknown;
  details?: Record<string, unknown>;
}

/** Base class: `code` is stable and documented; `details` is safe to show to a caller. */
export class RingfenceError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: RingfenceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** One line per problem, each `path: message`. */
export interface Issue {
  path: string;
  message: string;
}

export class ConfigError extends RingfenceError {
  readonly issues: readonly Issue[];
  constructor(message: string, issues: readonly Issue[], options: RingfenceErrorOptions = {}) {
    super('config_invalid', message, { ...options, details: { issues } });
    this.issues = issues;
  }
}

export class PolicyError extends RingfenceError {
  constructor(message: string, options: RingfenceErrorOptions = {}) {
    super('policy_invalid', message, options);
  }
}

export class SandboxError extends RingfenceError {
  constructor(
    code: 'sandbox_unavailable' | 'sandbox_failed' | 'sandbox_destroyed',
    message: string,
    options: RingfenceErrorOptions = {},
  ) {
    super(code, message, options);
  }
}

/** A path given to a file operation resolves outside the sandbox workspace. */
export class PathEscapeError extends RingfenceError {
  constructor(path: string, reason: string) {
    super('path_escape', `path escapes the workspace: ${path} (${reason})`, {
      details: { path, reason },
    });
  }
}

export class EgressDeniedError extends RingfenceError {
  readonly reason: string;
  constructor(reason: string, message: string, options: RingfenceErrorOptions = {}) {
    super('egress_denied', message, { ...options, details: { reason, ...options.details } });
    this.reason = reason;
  }
}

export class AuditError extends RingfenceError {
  constructor(message: string, options: RingfenceErrorOptions = {}) {
    super('audit_failed', message, options);
  }
}

const HTTP_STATUS: Record<ErrorCode, number> = {
  config_invalid: 400,
  policy_invalid: 400,
  policy_denied: 403,
  sandbox_unavailable: 503,
  sandbox_failed: 500,
  sandbox_destroyed: 409,
  path_escape: 400,
  egress_denied: 403,
  model_error: 502,
  audit_failed: 503,
  not_found: 404,
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  rate_limited: 429,
  conflict: 409,
  internal: 500,
};

/** Maps any thrown value to an HTTP status; unknown errors are 500. */
export function httpStatusOf(err: unknown): number {
  return err instanceof RingfenceError ? HTTP_STATUS[err.code] : 500;
}

/** Formats issues the way every ringfence command prints them: one `path: message` per line. */
export function formatIssues(issues: readonly Issue[]): string {
  return issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('\n');
}

/** A secret could not be read or used; names the secret, never its value. */
export class SecretError extends RingfenceError {
  readonly secret: string;
  constructor(secret: string, message: string, options: RingfenceErrorOptions = {}) {
    super('config_invalid', message, { ...options, details: { secret, ...options.details } });
    this.secret = secret;
  }
}
