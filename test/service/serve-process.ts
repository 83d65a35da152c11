// Starts `ringfence serve` as a child process (tsx) and reads the URL and the first admin key
// from its stdout; stderr is kept for failure messages.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ENTRY = fileURLToPath(new URL('./serve-entry.ts', import.meta.url));

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  adminKey: string | undefined;
  stderr(): string;
  /** Resolves with the exit code or signal once the process has exited. */
  exited: Promise<number | string>;
}

export async function startServe(configPath: string, extra: string[] = []): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', ENTRY, '--config', configPath, 'serve', '--port', '0', ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RINGFENCE_ENV: 'dev' } },
  );
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited ${code}: ${err}`));
    });
  });
  const key = /\(shown once\): (\S+)/.exec(out)?.[1];
  return { child, url, adminKey: key, stderr: () => err, exited };
}
