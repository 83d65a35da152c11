// A remote (Streamable HTTP) MCP server reached from INSIDE the sandbox: a small Node program run
// there turns the stdio transport into HTTP POSTs through the session's egress proxy, so the
// proxy decides, injects credentials and records every connection like any other egress.

/**
 * The bridge program (run as `node -e BRIDGE URL HEADERS_JSON`). One JSON-RPC message per stdin
 * line is POSTed to URL via the proxy in HTTP_PROXY (absolute-form for http, CONNECT + TLS for
 * https); JSON or SSE replies are written back one message per line. A refused request becomes
 * a JSON-RPC error carrying the proxy's reason. Plain CommonJS for the sandbox's own Node.
 */
export const REMOTE_MCP_BRIDGE = String.raw`
const http = require('node:http'), tls = require('node:tls'), readline = require('node:readline');
const target = new URL(process.argv[1]);
const extra = JSON.parse(process.argv[2] || '{}');
const proxy = new URL(process.env.HTTP_PROXY || process.env.http_proxy || 'http://127.0.0.1:3128');
let session;
const out = (m) => process.stdout.write(JSON.stringify(m) + '\n');
function tunnel() {
  return new Promise((resolve, reject) => {
    const port = target.port || '443';
    const req = http.request({ host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: target.hostname + ':' + port });
    req.on('connect', (res, socket) => {
      if (res.statusCode !== 200) { socket.destroy(); reject(new Error('egress proxy refused ' + target.host + ': ' + (res.headers['x-proxy-error'] || res.statusCode))); return; }
      resolve(tls.connect({ socket, servername: target.hostname }));
    });
    req.on('error', reject);
    req.end();
  });
}
async function post(body) {
  const headers = { ...extra, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': Buffer.byteLength(body) };
  if (session) headers['mcp-session-id'] = session;
  const https = target.protocol === 'https:';
  const opts = https
    ? { method: 'POST', path: target.pathname + target.search, headers: { ...headers, host: target.host }, createConnection: () => tunnelSocket }
    : { host: proxy.hostname, port: proxy.port, method: 'POST', path: target.href, headers: { ...headers, host: target.host } };
  let tunnelSocket;
  if (https) tunnelSocket = await tunnel();
  return new Promise((resolve, reject) => {
    const req = http.request(opts, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (data += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
readline.createInterface({ input: process.stdin }).on('line', async (line) => {
  if (!line.trim()) return;
  const msg = JSON.parse(line);
  try {
    const res = await post(line);
    if (res.headers['mcp-session-id']) session = res.headers['mcp-session-id'];
    if (res.status === 202 || res.data === '') return;
    if (res.status >= 400) throw new Error('HTTP ' + res.status + (res.headers['x-proxy-error'] ? ' (egress: ' + res.headers['x-proxy-error'] + ')' : '') + ': ' + res.data.slice(0, 200));
    if (String(res.headers['content-type'] || '').includes('text/event-stream')) {
      for (const l of res.data.split('\n')) if (l.startsWith('data:')) out(JSON.parse(l.slice(5)));
    } else {
      const parsed = JSON.parse(res.data);
      for (const m of Array.isArray(parsed) ? parsed : [parsed]) out(m);
    }
  } catch (err) {
    if (msg.id !== undefined) out({ jsonrpc: '2.0', id: msg.id, error: { code: -32000, message: String(err.message || err) } });
  }
});
`;

/** The argv that runs the bridge for `url` inside the sandbox. */
export function remoteBridgeCommand(url: string, headers: Record<string, string>): string[] {
  return ['node', '-e', REMOTE_MCP_BRIDGE, url, JSON.stringify(headers)];
}
