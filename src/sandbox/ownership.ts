// Host-side ownership helpers for workspaces: hand a tree to a sandbox's host uid and back,
// never following links, and check whether a uid can reach a path at all.
import { statSync } from 'node:fs';
import { lchown, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** chown -R -h in-process: cheap for the small or empty trees sandboxes usually start with. */
export async function chownTree(root: string, uid: number, gid: number): Promise<void> {
  await lchown(root, uid, gid);
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch {
    return;
  }
  await Promise.all(
    entries.map(async (e) => {
      const path = join(root, e.name);
      if (e.isDirectory()) await chownTree(path, uid, gid);
      else await lchown(path, uid, gid).catch(() => undefined);
    }),
  );
}

/**
 * True when a process with `uid` (no groups) can traverse every parent directory of `path`.
 * Synchronous stats (a handful, one per parent): on the path of every sandbox's creation.
 */
export async function traversableBy(path: string, uid: number): Promise<boolean> {
  let dir = dirname(path);
  for (;;) {
    const st = statSync(dir);
    const bits = st.uid === uid ? st.mode >> 6 : st.mode;
    if ((bits & 0o1) === 0) return false;
    const parent = dirname(dir);
    if (parent === dir) return true;
    dir = parent;
  }
}
