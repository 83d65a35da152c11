// Measures a workspace's disk use (bytes of regular files, never following links) with an early
// stop once a limit is passed, so a disk-fill check costs at most one walk up to the limit.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Bytes counted per inode too, so an inode fill is caught as well as a byte fill. */
const INODE_COST_BYTES = 4096;

/**
 * With `total` false (default): true when usage exceeds `limitBytes`.
 * With `total` true: the measured usage in bytes (stops counting at `limitBytes`).
 */
export async function measureDisk(root: string, limitBytes: number, total: true): Promise<number>;
export async function measureDisk(
  root: string,
  limitBytes: number,
  total?: false,
): Promise<boolean>;
export async function measureDisk(
  root: string,
  limitBytes: number,
  total = false,
): Promise<number | boolean> {
  let used = 0;
  const stack = [root];
  while (stack.length > 0 && used <= limitBytes) {
    const dir = stack.pop()!;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const path = join(dir, name);
      try {
        const st = await lstat(path);
        used += Math.max(st.blocks * 512, INODE_COST_BYTES);
        if (st.isDirectory()) stack.push(path);
      } catch {
        // vanished during the walk
      }
    }
  }
  return total ? used : used > limitBytes;
}
