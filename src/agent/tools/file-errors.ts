// Turns file-op failures from the sandbox (escapes, missing files) into one-line tool errors.
import { PathEscapeError, RingfenceError } from '../../errors.js';

export function describeFileError(op: string, path: string, err: unknown): string {
  if (err instanceof PathEscapeError) return `Refused: ${err.message}`;
  if (err instanceof RingfenceError) return `Cannot ${op} ${path}: ${err.message}`;
  return `Cannot ${op} ${path}: ${err instanceof Error ? err.message : String(err)}`;
}
