// Random bytes for sandbox ids, host uids and socket names, read from the kernel's CSPRNG
// directly: node:crypto costs ~3 ms to load on Node 20, and the one-shot `ringfence sandbox exec`
// start-up path needs nothing else of it.
import { closeSync, openSync, readSync } from 'node:fs';

/** `n` bytes from /dev/urandom (the same source as crypto.randomBytes). */
export function randomBytes(n: number): Buffer {
  const buf = Buffer.alloc(n);
  const fd = openSync('/dev/urandom', 'r');
  try {
    for (let off = 0; off < n;) off += readSync(fd, buf, off, n - off, null);
  } finally {
    closeSync(fd);
  }
  return buf;
}
