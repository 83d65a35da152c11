// Reads an HTTP request body as text with a size cap: shared by the scripted model server and
// the HTTP gateway, both of which take Messages-API requests.
import type { IncomingMessage } from 'node:http';

/** Request bodies larger than this are refused (Messages-API requests with images fit). */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** Resolves with the whole body; rejects and destroys the request past `maxBytes`. */
export function readBody(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      parts.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}
