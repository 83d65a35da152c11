// Builds the default sandbox image offline: debootstrap minbase + packages from the configured
// Debian mirror, `docker import` as the base, then the ringfence layer (user 1000, /workspace).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SandboxError } from '../../errors.js';
import { silentLogger, type StorageLogger } from '../../storage/storage-logger.js';
import {
  BASE_IMAGE_NAME,
  DEBIAN_SUITE,
  DEFAULT_IMAGE_NAME,
  IMAGE_PACKAGES,
  baseImageTag,
  imageTag,
  ringfenceLayer,
} from './image-spec.js';

export interface BuildImageOptions {
  /** Repository name of the final image (default ringfence-sandbox); the tag is the content hash. */
  name?: string;
  /** Rebuild even when the tag is cached. */
  force?: boolean;
  /** Debian mirror; default: the first bookworm source in /etc/apt. */
  mirror?: string;
  logger?: StorageLogger;
  /** Where build output goes (default: stderr). */
  progress?: (line: string) => void;
}

export interface BuildImageResult {
  ref: string;
  cached: boolean;
  durationMs: number;
}

interface RunOptions {
  input?: string;
  progress?: ((line: string) => void) | undefined;
  env?: Record<string, string>;
}

function run(cmd: string, args: string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...(options.env ?? {}) },
    });
    let out = '';
    let tail = '';
    const onData = (d: Buffer, keep: boolean): void => {
      const s = d.toString();
      if (keep) out += s;
      tail = (tail + s).slice(-4000);
      options.progress?.(s);
    };
    child.stdout.on('data', (d: Buffer) => onData(d, true));
    child.stderr.on('data', (d: Buffer) => onData(d, false));
    child.on('error', (err) =>
      reject(new SandboxError('sandbox_unavailable', `${cmd}: ${err.message}`, { cause: err })),
    );
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else
        reject(
          new SandboxError('sandbox_failed', `${cmd} ${args[0] ?? ''} exited ${code}: ${tail}`),
        );
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** The Debian mirror apt already uses (deb822 .sources or one-line lists), for the suite. */
export function debianMirror(): string {
  const files = ['/etc/apt/sources.list'];
  if (existsSync('/etc/apt/sources.list.d')) {
    for (const f of readdirSync('/etc/apt/sources.list.d').sort())
      files.push(join('/etc/apt/sources.list.d', f));
  }
  for (const file of files) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
      const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1]?.split(/\s+/) ?? [];
      if (uri && suites.includes(DEBIAN_SUITE)) return uri;
    }
    for (const line of text.split('\n')) {
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
      if (m?.[1] && m[2] === DEBIAN_SUITE) return m[1];
    }
  }
  throw new SandboxError(
    'sandbox_unavailable',
    `no Debian ${DEBIAN_SUITE} mirror found in /etc/apt sources`,
  );
}

export async function imageExists(ref: string): Promise<boolean> {
  try {
    await run('docker', ['image', 'inspect', '--format', '{{.Id}}', ref]);
    return true;
  } catch {
    return false;
  }
}

/** Builds (or finds cached) the default image; returns its reference. */
export async function buildDefaultImage(
  options: BuildImageOptions = {},
): Promise<BuildImageResult> {
  const started = performance.now();
  const logger = options.logger ?? silentLogger;
  const progress = options.progress;
  const tag = imageTag();
  const ref = `${options.name ?? DEFAULT_IMAGE_NAME}:${tag}`;
  const baseRef = `${BASE_IMAGE_NAME}:${baseImageTag()}`;
  if (!options.force && (await imageExists(ref))) {
    logger.info({ ref }, 'sandbox image cached');
    return { ref, cached: true, durationMs: performance.now() - started };
  }
  if (options.force || !(await imageExists(baseRef))) {
    const mirror = options.mirror ?? debianMirror();
    const root = await mkdtemp(join(tmpdir(), 'ringfence-rootfs-'));
    try {
      logger.info({ mirror, root }, 'debootstrap');
      await run(
        'debootstrap',
        ['--variant=minbase', `--include=${IMAGE_PACKAGES.join(',')}`, DEBIAN_SUITE, root, mirror],
        { progress },
      );
      await run('sh', [
        '-c',
        'rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*',
        'sh',
        root,
      ]);
      logger.info({ baseRef }, 'docker import');
      await run(
        'sh',
        ['-c', 'tar -C "$1" --numeric-owner -c . | docker import - "$2"', 'sh', root, baseRef],
        { progress },
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }
  logger.info({ ref }, 'ringfence layer');
  await run('docker', ['build', '--network', 'none', '-t', ref, '-'], {
    input: ringfenceLayer(baseRef),
    progress,
    env: { DOCKER_BUILDKIT: '0' },
  });
  return { ref, cached: false, durationMs: performance.now() - started };
}
