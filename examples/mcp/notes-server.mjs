/* global process */
// A tiny stdio MCP server (JSON-RPC 2.0, one message per line) for examples and tests: `echo` is
// annotated read-only, `append_note` is not (so the permission engine treats it as destructive).
// Run it inside the sandbox: tools.mcp: { notes: { command: ['node', '/path/notes-server.mjs'] } }.
import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const NOTES = process.env.NOTES_FILE ?? '/workspace/notes.txt';

const TOOLS = [
  {
    name: 'echo',
    description: 'Returns its text, with where the server runs.',
    inputSchema: {
      type: 'object',
      properties: { text: { type: 'string' } },
      required: ['text'],
    },
    annotations: { readOnlyHint: true },
  },
  {
    name: 'append_note',
    description: 'Appends a line to the notes file in the workspace.',
    inputSchema: {
      type: 'object',
      properties: { line: { type: 'string' } },
      required: ['line'],
    },
  },
];

function send(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function callTool(name, args) {
  if (name === 'echo') {
    const where = `cwd=${process.cwd()} uid=${process.getuid()}`;
    return { content: [{ type: 'text', text: `echo: ${String(args.text)} (${where})` }] };
  }
  if (name === 'append_note') {
    appendFileSync(NOTES, `${String(args.line)}\n`);
    return { content: [{ type: 'text', text: `appended to ${NOTES}` }] };
  }
  return { content: [{ type: 'text', text: `unknown tool ${name}` }], isError: true };
}

function handle(msg) {
  if (msg.id === undefined) return; // notifications (initialized, cancelled)
  const reply = (result) => send({ jsonrpc: '2.0', id: msg.id, result });
  switch (msg.method) {
    case 'initialize':
      return reply({
        protocolVersion: msg.params?.protocolVersion ?? '2025-06-18',
        capabilities: { tools: {} },
        serverInfo: { name: 'notes', version: '0.1.0' },
      });
    case 'ping':
      return reply({});
    case 'tools/list':
      return reply({ tools: TOOLS });
    case 'tools/call': {
      try {
        return reply(callTool(msg.params?.name, msg.params?.arguments ?? {}));
      } catch (err) {
        return reply({ content: [{ type: 'text', text: String(err) }], isError: true });
      }
    }
    default:
      return send({
        jsonrpc: '2.0',
        id: msg.id,
        error: { code: -32601, message: `method not found: ${msg.method}` },
      });
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === '') return;
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    return send({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } });
  }
  handle(msg);
});
