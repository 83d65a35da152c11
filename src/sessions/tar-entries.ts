// A small reader of tar headers (ustar, GNU long names, PAX) that vets an archive before
// it is extracted: no absolute paths, no `..`, no writes through a symlink, no odd file types.
import { PathEscapeError, RingfenceError } from '../errors.js';

export type TarEntryType = 'file' | 'dir' | 'symlink';

export interface TarEntry {
  /** Normalised relative path (no leading `./`, no trailing `/`); `.` for the root. */
  path: string;
  type: TarEntryType;
  size: number;
  mode: number;
  linkTarget: string | undefined;
}

const BLOCK = 512;
const PAX_KEYS_ALLOWED = new Set([
  'path',
  'linkpath',
  'size',
  'mtime',
  'atime',
  'ctime',
  'uid',
  'gid',
  'uname',
  'gname',
  'comment',
]);

function cString(buf: Buffer, start: number, len: number): string {
  const slice = buf.subarray(start, start + len);
  const nul = slice.indexOf(0);
  return (nul === -1 ? slice : slice.subarray(0, nul)).toString('utf8');
}

function numeric(buf: Buffer, start: number, len: number): number {
  const field = buf.subarray(start, start + len);
  if (((field[0] ?? 0) & 0x80) !== 0) {
    // GNU base-256: big-endian binary after the marker bit.
    let n = (field[0] ?? 0) & 0x7f;
    for (let i = 1; i < field.length; i++) n = n * 256 + (field[i] ?? 0);
    return n;
  }
  const text = cString(buf, start, len).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw invalid(`bad octal field "${text}"`);
  return parseInt(text, 8);
}

function invalid(message: string): RingfenceError {
  return new RingfenceError('invalid_request', `invalid workspace archive: ${message}`);
}

function parsePax(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space === -1) throw invalid('bad pax record');
    const len = parseInt(data.subarray(pos, space).toString('ascii'), 10);
    if (!Number.isSafeInteger(len) || len <= 0 || pos + len > data.length)
      throw invalid('bad pax length');
    const record = data.subarray(space + 1, pos + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq === -1) throw invalid('bad pax record');
    out.set(record.slice(0, eq), record.slice(eq + 1));
    pos += len;
  }
  return out;
}

/** Normalises and checks one member name; throws PathEscapeError for escapes. */
export function safeMemberPath(raw: string): string {
  if (raw.includes('\0')) throw new PathEscapeError(raw, 'NUL byte in name');
  if (raw.startsWith('/')) throw new PathEscapeError(raw, 'absolute path in archive');
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new PathEscapeError(raw, '`..` in archive path');
  return parts.length === 0 ? '.' : parts.join('/');
}

/**
 * Lists and vets every member of an uncompressed tar. Throws PathEscapeError for escapes
 * (absolute, `..`, through a symlink) and RingfenceError('invalid_request') for other refusals.
 */
export function vetTarEntries(tar: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  const symlinks = new Set<string>();
  const seen = new Map<string, TarEntryType>();
  let pos = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Map<string, string> | undefined;
  while (pos + BLOCK <= tar.length) {
    const header = tar.subarray(pos, pos + BLOCK);
    if (header.every((b) => b === 0)) return entries;
    const sum = numeric(header, 148, 8);
    let check = 0;
    for (let i = 0; i < BLOCK; i++) check += i >= 148 && i < 156 ? 0x20 : (header[i] ?? 0);
    if (sum !== check) throw invalid('header checksum mismatch');
    const typeflag = String.fromCharCode(header[156] ?? 0);
    let size = numeric(header, 124, 12);
    if (pax?.has('size') === true) size = Number(pax.get('size'));
    if (!Number.isSafeInteger(size) || size < 0) throw invalid('bad size');
    const dataStart = pos + BLOCK;
    const dataEnd = dataStart + size;
    if (dataEnd > tar.length) throw invalid('truncated archive');
    pos = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    const data = tar.subarray(dataStart, dataEnd);
    if (typeflag === 'L') {
      longName = cString(data, 0, data.length);
      continue;
    }
    if (typeflag === 'K') {
      longLink = cString(data, 0, data.length);
      continue;
    }
    if (typeflag === 'x') {
      pax = parsePax(data);
      for (const key of pax.keys()) {
        if (
          !PAX_KEYS_ALLOWED.has(key) &&
          !key.startsWith('SCHILY.') &&
          !key.startsWith('LIBARCHIVE.')
        ) {
          throw invalid(`unsupported pax key ${key}`);
        }
      }
      continue;
    }
    const magic = cString(header, 257, 6);
    const prefix = magic.startsWith('ustar') && header[262] === 0 ? cString(header, 345, 155) : '';
    const headerName = cString(header, 0, 100);
    const rawName =
      pax?.get('path') ?? longName ?? (prefix === '' ? headerName : `${prefix}/${headerName}`);
    const rawLink = pax?.get('linkpath') ?? longLink ?? cString(header, 157, 100);
    longName = longLink = pax = undefined;
    const type: TarEntryType | undefined =
      typeflag === '0' || typeflag === '\0' || typeflag === '7'
        ? 'file'
        : typeflag === '5'
          ? 'dir'
          : typeflag === '2'
            ? 'symlink'
            : undefined;
    const path = safeMemberPath(rawName);
    if (type === undefined) throw invalid(`entry ${path} has unsupported type '${typeflag}'`);
    const mode = numeric(header, 100, 8);
    if ((mode & 0o6000) !== 0) throw invalid(`entry ${path} is setuid/setgid`);
    const segments = path.split('/');
    for (let i = 1; i <= segments.length; i++) {
      const ancestor = segments.slice(0, i).join('/');
      if (symlinks.has(ancestor))
        throw new PathEscapeError(path, 'writes through a symlink in the archive');
    }
    const before = seen.get(path);
    if (before !== undefined && (before !== 'dir' || type !== 'dir')) {
      throw invalid(`entry ${path} appears twice`);
    }
    seen.set(path, type);
    if (path === '.' && type !== 'dir') throw invalid('archive root is not a directory');
    if (type === 'symlink') symlinks.add(path);
    entries.push({
      path,
      type,
      size: type === 'file' ? size : 0,
      mode,
      linkTarget: type === 'symlink' ? rawLink : undefined,
    });
  }
  // No end-of-archive marker: accept only when every byte belonged to a member.
  if (pos === tar.length) return entries;
  throw invalid('truncated archive');
}
