// Maps every failure to the API's JSON error body `{error: {code, message, details}}` with the
// status from httpStatusOf; zod problems become `invalid_request` listing each field path.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodError } from 'zod';
import { httpStatusOf, RingfenceError, type ErrorCode } from '../errors.js';

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details: Record<string, unknown> };
}

/** A RingfenceError('invalid_request') whose message lists `path: message` per issue. */
export function validationError(err: ZodError, where: string): RingfenceError {
  const issues = err.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  const text = issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ');
  return new RingfenceError('invalid_request', `invalid ${where}: ${text}`, {
    details: { issues },
  });
}

export function errorBody(err: RingfenceError): ErrorBody {
  return { error: { code: err.code, message: err.message, details: err.details } };
}

/** Fastify's own errors (body too large, bad JSON, unsupported media type) mapped to codes. */
function fromFastify(err: FastifyError): RingfenceError {
  const status = err.statusCode ?? 500;
  if (status === 413) {
    return new RingfenceError('invalid_request', err.message, {
      details: { reason: 'body_too_large' },
    });
  }
  if (status === 415) {
    return new RingfenceError('invalid_request', err.message, {
      details: { reason: 'unsupported_media_type' },
    });
  }
  if (status >= 400 && status < 500) return new RingfenceError('invalid_request', err.message);
  return new RingfenceError('internal', 'internal error');
}

/** The app's error handler; unknown errors are logged and answered without their message. */
export function handleApiError(
  err: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  let rf: RingfenceError;
  let status: number;
  if (err instanceof RingfenceError) {
    rf = err;
    status = httpStatusOf(err);
  } else if (isFastifyError(err)) {
    rf = fromFastify(err);
    status = err.statusCode !== undefined && err.statusCode < 500 ? err.statusCode : 500;
  } else {
    rf = new RingfenceError('internal', 'internal error');
    status = 500;
  }
  if (status >= 500) request.log.error({ err }, 'api: request failed');
  const retryAfter = rf.details['retryAfterSec'];
  if (typeof retryAfter === 'number') void reply.header('retry-after', String(retryAfter));
  return reply.code(status).type('application/json').send(errorBody(rf));
}

function isFastifyError(err: unknown): err is FastifyError {
  return err instanceof Error && 'code' in err && typeof (err as FastifyError).code === 'string';
}
