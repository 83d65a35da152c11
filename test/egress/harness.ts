// Shared plumbing of the egress integration tests: the socat TCP→unix relay (what the lead's
// in-sandbox relay does), curl, and raw HTTP over a relay port for byte-exact requests.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { promisify } from 'node:util';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const run = promisify(execFile);

export interface Relay {
  port: number;
  stop(): void;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * `socat -b 131072 TCP-LISTEN:<port>,bind=127.0.0.1,fork,reuseaddr,nodelay UNIX-CONNECT:<socket>`,
 * as in src/sandbox/provision.ts. Without nodelay Nagle adds ~11 ms per request; with socat's
 * default 8 KiB block the relay alone caps throughput far below the proxy's.
 */
export async function startRelay(socketPath: string, block = 131_072): Promise<Relay> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'socat',
    [
      '-b',
      String(block),
      `TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr,nodelay`,
      `UNIX-CONNECT:${socketPath}`,
    ],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return { port, stop: () => child.kill('SIGTERM') };
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  throw new Error('socat relay did not start');
}

export interface CurlResult {
  exitCode: number;
  body: string;
  /** Status of the final response (or of the refused CONNECT). */
  status: number;
  /** `X-Proxy-Error` of any response in the exchange, if present. */
  proxyError: string | undefined;
  headers: string;
}

/** Runs curl through the relay with `--proxy`; never throws on a non-zero exit. */
export async function curl(port: number, args: readonly string[]): Promise<CurlResult> {
  const dir = await mkdtemp(join(tmpdir(), 'rf-curl-'));
  const headerFile = join(dir, 'headers');
  const full = [
    '-sS',
    '--max-time',
    '10',
    '--proxy',
    `http://127.0.0.1:${port}`,
    '-D',
    headerFile,
    ...args,
  ];
  let exitCode = 0;
  let body = '';
  try {
    body = (await run('curl', full, { encoding: 'utf8' })).stdout;
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    exitCode = typeof e.code === 'number' ? e.code : -1;
    body = e.stdout ?? '';
  }
  const headers = await readFile(headerFile, 'utf8').catch(() => '');
  await rm(dir, { recursive: true, force: true });
  return parseCurl(exitCode, body, headers);
}

function parseCurl(exitCode: number, body: string, headers: string): CurlResult {
  const statuses = [...headers.matchAll(/^HTTP\/[\d.]+ (\d{3})/gm)].map((m) => Number(m[1]));
  const proxyError = /^x-proxy-error: *(\S+)/im.exec(headers)?.[1];
  return { exitCode, body, status: statuses[statuses.length - 1] ?? 0, proxyError, headers };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends one raw HTTP/1.1 request (exact bytes) and reads the whole response. */
export function rawRequest(port: number, text: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let data = '';
    s.on('data', (d: Buffer) => (data += d.toString('latin1')));
    s.on('error', reject);
    s.on('close', () => {
      const [head = '', ...rest] = data.split('\r\n\r\n');
      const lines = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({
        status: Number(/^HTTP\/1\.1 (\d+)/.exec(lines[0] ?? '')?.[1] ?? 0),
        headers,
        body: rest.join('\r\n\r\n'),
      });
    });
    s.write(
      text.includes('Connection:')
        ? text
        : text.replace(/\r\n\r\n$/, '\r\nConnection: close\r\n\r\n'),
    );
  });
}
