// A git smart-HTTP server for workspace tests: `git http-backend` behind a tiny node HTTP server
// inside a network namespace on its own /28 (other files use 198.51.100.0/24, 198.51.100.128/28,
// 203.0.113.0/24, 203.0.113.128/28, 203.0.113.208/28 and 203.0.113.224/28 concurrently).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetns, waitForLine, type TestNetns } from '../helpers/netns.js';

/** This file's subnet: host side .161, the git server .162 (203.0.113.160/28). */
export const SUBNET_GIT = { hostIp: '203.0.113.161', upstreamIp: '203.0.113.162', prefix: 28 };

/** The CGI bridge run inside the namespace: argv root, port, host. */
const SERVER_SOURCE = `
import http from 'node:http';
import { spawn } from 'node:child_process';
const [root, port, host] = process.argv.slice(2);
http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  const env = {
    PATH: process.env.PATH, GIT_PROJECT_ROOT: root, GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: decodeURIComponent(u.pathname), QUERY_STRING: u.search.slice(1),
    REQUEST_METHOD: req.method, CONTENT_TYPE: req.headers['content-type'] ?? '',
    REMOTE_ADDR: req.socket.remoteAddress ?? '', GIT_PROTOCOL: req.headers['git-protocol'] ?? '',
    HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
  };
  if (req.headers['content-length']) env.CONTENT_LENGTH = req.headers['content-length'];
  const cgi = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  req.pipe(cgi.stdin);
  let head = Buffer.alloc(0);
  let started = false;
  cgi.stdout.on('data', (d) => {
    if (started) return void res.write(d);
    head = Buffer.concat([head, d]);
    const text = head.toString('latin1');
    const m = /\\r?\\n\\r?\\n/.exec(text);
    if (!m) return;
    started = true;
    let status = 200;
    for (const line of text.slice(0, m.index).split(/\\r?\\n/)) {
      const i = line.indexOf(':');
      const name = line.slice(0, i).trim();
      const value = line.slice(i + 1).trim();
      if (name.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
      else res.setHeader(name, value);
    }
    res.writeHead(status);
    res.write(head.subarray(m.index + m[0].length));
  });
  cgi.stdout.on('end', () => res.end());
  console.log(req.method + ' ' + u.pathname);
}).listen(Number(port), host, () => console.log('git server ready'));
`;

export interface GitServer {
  netns: TestNetns;
  /** Commit of tag v1 (README "version one") and of main (README "version two"). */
  commits: { v1: string; main: string };
  /** Canary lines in README.md at v1 and at main. */
  canaries: { v1: string; main: string };
  destroy(): Promise<void>;
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.test', ...args], {
    cwd,
    encoding: 'utf8',
  }).trim();
}

/** Serves `repo.git` (tag v1 + one more commit on main) at http://<upstreamIp>/repo.git. */
export async function startGitServer(canaries: { v1: string; main: string }): Promise<GitServer> {
  const dir = mkdtempSync(join(tmpdir(), 'rf-git-srv-'));
  const root = join(dir, 'srv');
  const work = join(dir, 'work');
  mkdirSync(root);
  mkdirSync(work);
  git(root, 'init', '-q', '--bare', '-b', 'main', 'repo.git');
  git(work, 'init', '-q', '-b', 'main');
  writeFileSync(join(work, 'README.md'), `version one ${canaries.v1}\n`);
  git(work, 'add', 'README.md');
  git(work, 'commit', '-q', '-m', 'one');
  git(work, 'tag', 'v1');
  writeFileSync(join(work, 'README.md'), `version two ${canaries.main}\n`);
  git(work, 'commit', '-q', '-am', 'two');
  git(work, 'push', '-q', join(root, 'repo.git'), 'main', 'v1');
  const commits = {
    v1: git(work, 'rev-parse', 'v1^{commit}'),
    main: git(work, 'rev-parse', 'main'),
  };
  const script = join(dir, 'git-http-server.mjs');
  writeFileSync(script, SERVER_SOURCE);
  const netns = await createNetns({
    hostIp: SUBNET_GIT.hostIp,
    nsIps: [SUBNET_GIT.upstreamIp],
    prefix: SUBNET_GIT.prefix,
  });
  try {
    const child = netns.spawn(process.execPath, [script, root, '80', SUBNET_GIT.upstreamIp]);
    await waitForLine(child, 'git server ready');
  } catch (err) {
    await netns.destroy();
    throw err;
  }
  return {
    netns,
    commits,
    canaries,
    destroy: async () => {
      await netns.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
