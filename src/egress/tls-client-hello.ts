// Reads the server name (SNI) out of a TLS ClientHello without terminating TLS, so a CONNECT
// tunnel can require SNI == CONNECT host (no domain fronting). Handles records split anywhere.

export type ClientHelloResult =
  | { status: 'need_more' }
  | { status: 'not_tls' }
  | { status: 'malformed' }
  | { status: 'ok'; serverName: string | undefined };

/** Largest ClientHello the proxy buffers before giving up. */
export const MAX_CLIENT_HELLO_BYTES = 64 * 1024;

const HANDSHAKE = 0x16;
const CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;

/** Joins the handshake bytes of consecutive TLS records (a ClientHello may span several). */
function handshakeBytes(buf: Buffer): Buffer | 'need_more' | 'not_tls' {
  const parts: Buffer[] = [];
  let off = 0;
  while (off + 5 <= buf.length) {
    if (buf[off] !== HANDSHAKE || buf[off + 1] !== 0x03) return 'not_tls';
    const len = buf.readUInt16BE(off + 3);
    if (off + 5 + len > buf.length) break;
    parts.push(buf.subarray(off + 5, off + 5 + len));
    off += 5 + len;
  }
  if (buf.length > 0 && buf[0] !== HANDSHAKE) return 'not_tls';
  return parts.length === 0 ? 'need_more' : Buffer.concat(parts);
}

/**
 * Parses the start of a client's byte stream.
 * @example parseClientHello(firstBytes) // { status: 'ok', serverName: 'api.example.com' }
 */
export function parseClientHello(buf: Buffer): ClientHelloResult {
  if (buf.length === 0) return { status: 'need_more' };
  if (buf[0] !== HANDSHAKE) return { status: 'not_tls' };
  const hs = handshakeBytes(buf);
  if (hs === 'not_tls') return { status: 'not_tls' };
  if (hs === 'need_more' || hs.length < 4) return { status: 'need_more' };
  if (hs[0] !== CLIENT_HELLO) return { status: 'malformed' };
  const bodyLen = hs.readUIntBE(1, 3);
  if (hs.length < 4 + bodyLen) return { status: 'need_more' };
  try {
    return { status: 'ok', serverName: serverNameOf(hs.subarray(4, 4 + bodyLen)) };
  } catch {
    return { status: 'malformed' };
  }
}

function serverNameOf(body: Buffer): string | undefined {
  let off = 2 + 32; // legacy_version, random
  const need = (n: number): void => {
    if (off + n > body.length) throw new RangeError('truncated ClientHello');
  };
  need(1);
  off += 1 + (body[off] ?? 0); // session id
  need(2);
  off += 2 + body.readUInt16BE(off); // cipher suites
  need(1);
  off += 1 + (body[off] ?? 0); // compression methods
  if (off === body.length) return undefined; // no extensions
  need(2);
  const end = off + 2 + body.readUInt16BE(off);
  off += 2;
  if (end > body.length) throw new RangeError('truncated extensions');
  let name: string | undefined;
  let seen = false;
  while (off + 4 <= end) {
    const type = body.readUInt16BE(off);
    const len = body.readUInt16BE(off + 2);
    off += 4;
    if (off + len > end) throw new RangeError('truncated extension');
    if (type === EXT_SERVER_NAME) {
      if (seen) throw new RangeError('duplicate server_name');
      seen = true;
      name = hostNameOf(body.subarray(off, off + len));
    }
    off += len;
  }
  return name;
}

function hostNameOf(ext: Buffer): string {
  const listLen = ext.readUInt16BE(0);
  if (listLen + 2 !== ext.length || ext[2] !== 0) throw new RangeError('bad server_name list');
  const len = ext.readUInt16BE(3);
  if (5 + len !== ext.length) throw new RangeError('one host_name entry expected');
  return ext.subarray(5, 5 + len).toString('latin1');
}
