// Canonical JSON for audit records: sorted keys, no whitespace, JSON string escapes.
// Newlines, CR, NUL and quotes inside strings are escaped, so one record is always one line.
import { createHash } from 'node:crypto';
import { AuditError } from '../errors.js';

export type JsonValue =
  null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * Serialises `value` with object keys sorted by UTF-16 code units and no whitespace.
 * Properties whose value is `undefined` are left out (as JSON.stringify does).
 * @example canonicalize({ b: 1, a: [true, 'x'] }) // '{"a":[true,"x"],"b":1}'
 * @throws AuditError on values JSON cannot represent (NaN, Infinity, bigint, functions, cycles).
 */
export function canonicalize(value: unknown): string {
  return write(value, new Set());
}

function write(value: unknown, stack: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new AuditError(`cannot canonicalize number ${value}`);
      return JSON.stringify(value);
    case 'object':
      break;
    case 'bigint':
    case 'undefined':
    case 'function':
    case 'symbol':
      throw new AuditError(`cannot canonicalize a ${typeof value}`);
  }
  const obj = value;
  if (stack.has(obj)) throw new AuditError('cannot canonicalize a cyclic structure');
  stack.add(obj);
  try {
    if (Array.isArray(obj)) {
      return `[${obj.map((item: unknown) => write(item, stack)).join(',')}]`;
    }
    const proto: unknown = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      throw new AuditError('cannot canonicalize a non-plain object (Date, Buffer, class...)');
    }
    const record = obj as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((k) => record[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${write(record[k], stack)}`).join(',')}}`;
  } finally {
    stack.delete(obj);
  }
}

/** Hex sha256 of a string or bytes. */
export function sha256Hex(input: string | Uint8Array): string {
  return createHash('sha256').update(input).digest('hex');
}

/**
 * Hash of a tool input or output for the audit log: sha256 of its canonical JSON
 * (strings and Buffers are hashed as their bytes).
 * @example hashInput({ command: 'npm test' })
 */
export function hashInput(value: unknown): string {
  if (typeof value === 'string' || value instanceof Uint8Array) return sha256Hex(value);
  return sha256Hex(canonicalize(value));
}
