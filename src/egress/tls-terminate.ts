// TLS termination for credential-bound hosts only: the sandbox's TLS ends here with a leaf
// signed by the deployment CA; SNI must equal the CONNECT host; inner requests go to http-forward.
import type { Server } from 'node:http';
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { checkSni, type TerminateFn } from './connect-tunnel.js';
import type { TunnelInfo } from './http-forward.js';
import type { Denial } from './reasons.js';
import { track, type SessionContext } from './session-context.js';

/** A duplex that replays `head` before the socket's own bytes (TLSSocket cannot unshift). */
function withHead(socket: Socket, head: Buffer): Duplex {
  const duplex = new Duplex({
    read(): void {
      socket.resume();
    },
    write(chunk: Buffer, _enc, cb): void {
      socket.write(chunk, cb);
    },
    final(cb): void {
      socket.end(cb);
    },
    destroy(err, cb): void {
      socket.destroy();
      cb(err);
    },
  });
  duplex.push(head);
  socket.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('close', () => duplex.destroy());
  return duplex;
}

/**
 * Builds the terminator of one session. Each terminated TLS socket is handed to `inner` (an
 * http.Server that never listens) and remembered in `tunnels` so requests know their target.
 */
export function createTerminator(
  ctx: SessionContext,
  inner: Server,
  tunnels: WeakMap<object, TunnelInfo>,
): TerminateFn {
  return (client, head, tunnel, done) => {
    const ca = ctx.ca;
    if (!ca) {
      client.destroy();
      done({ reason: 'evaluation_error', detail: 'no CA configured' });
      return;
    }
    const host = tunnel.target.host;
    let denial: Denial | undefined;
    const tls = new TLSSocket(head.length ? withHead(client, head) : client, {
      isServer: true,
      secureContext: ca.contextFor(host),
      ALPNProtocols: ['http/1.1'],
      SNICallback: (name, cb) => {
        denial = checkSni(tunnel.target, name);
        if (denial) cb(new Error(denial.reason));
        else cb(null, ca.contextFor(host));
      },
    });
    track(ctx, tls);
    tls.on('error', () => tls.destroy());
    tls.once('secure', () => {
      if (!tunnel.target.isIp && !tls.servername) {
        denial = { reason: 'sni_missing' };
        tls.destroy();
        return;
      }
      tunnels.set(tls, tunnel);
      inner.emit('connection', tls);
    });
    tls.once('close', () => {
      client.destroy();
      done(denial);
    });
  };
}
