// What ordinary tools fetch in the egress tests, published as static files for the upstream
// server's /files/ route: a git repository (dumb HTTP), an npm registry and a pip simple index,
// each carrying `marker` so a test sees that the content came through.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The package name in both registries. */
export const PROBE = 'rf-probe';

/** Publishes the repository, the npm package and the wheel under `filesDir`, served as /files/. */
export async function publishTools(filesDir: string, marker: string): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'rf-tools-'));
  try {
    await publishGit(filesDir, work, marker);
    await publishNpm(filesDir, work, marker);
    await publishWheel(filesDir, marker);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** files/repo.git: a bare repository with README = marker, readable over dumb HTTP. */
async function publishGit(filesDir: string, work: string, marker: string): Promise<void> {
  const src = join(work, 'repo');
  const git = (...args: string[]) =>
    run('git', ['-c', 'user.name=ringfence', '-c', 'user.email=test@example.test', ...args]);
  await git('init', '-q', src);
  await writeFile(join(src, 'README'), `${marker}\n`);
  await git('-C', src, 'add', 'README');
  await git('-C', src, 'commit', '-q', '-m', 'probe');
  const bare = join(filesDir, 'repo.git');
  await mkdir(filesDir, { recursive: true });
  await git('clone', '-q', '--bare', src, bare);
  await git('-C', bare, 'update-server-info'); // info/refs and objects/info/packs for dumb HTTP
}

/** files/npm/: the packument of rf-probe@1.0.0 and its tarball, whose module exports marker. */
async function publishNpm(filesDir: string, work: string, marker: string): Promise<void> {
  const pkg = join(work, PROBE);
  await mkdir(pkg, { recursive: true });
  const manifest = { name: PROBE, version: '1.0.0', main: 'index.js' };
  await writeFile(join(pkg, 'package.json'), JSON.stringify(manifest));
  await writeFile(join(pkg, 'index.js'), `module.exports = ${JSON.stringify(marker)};\n`);
  const registry = join(filesDir, 'npm');
  await mkdir(registry, { recursive: true });
  await run('npm', ['pack', '--silent', '--pack-destination', registry], { cwd: pkg });
  const tarball = `${PROBE}-1.0.0.tgz`;
  const bytes = await readFile(join(registry, tarball));
  const packument = {
    name: PROBE,
    'dist-tags': { latest: '1.0.0' },
    versions: {
      '1.0.0': {
        ...manifest,
        dist: {
          tarball: `http://api.example.test/files/npm/${tarball}`,
          integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}`,
          shasum: createHash('sha1').update(bytes).digest('hex'),
        },
      },
    },
  };
  await writeFile(join(registry, PROBE), JSON.stringify(packument));
}

/** files/simple/rf-probe/: a pip simple index with one wheel whose module holds marker. */
async function publishWheel(filesDir: string, marker: string): Promise<void> {
  const wheel = 'rf_probe-1.0-py3-none-any.whl';
  const path = join(filesDir, wheel);
  const info = 'rf_probe-1.0.dist-info';
  const files: Record<string, string> = {
    'rf_probe/__init__.py': `MARKER = ${JSON.stringify(marker)}\n`,
    [`${info}/METADATA`]: `Metadata-Version: 2.1\nName: ${PROBE}\nVersion: 1.0\n`,
    [`${info}/WHEEL`]:
      'Wheel-Version: 1.0\nGenerator: ringfence-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n',
    [`${info}/RECORD`]: '',
  };
  const script = [
    'import json, sys, zipfile',
    'with zipfile.ZipFile(sys.argv[1], "w") as z:',
    '    for name, text in json.loads(sys.argv[2]).items(): z.writestr(name, text)',
  ].join('\n');
  await run('python3', ['-c', script, path, JSON.stringify(files)]);
  const sha256 = createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
  const index = join(filesDir, 'simple', PROBE);
  await mkdir(index, { recursive: true });
  await writeFile(
    join(index, 'index.html'),
    `<!DOCTYPE html><html><body><a href="../../${wheel}#sha256=${sha256}">${wheel}</a></body></html>\n`,
  );
}
