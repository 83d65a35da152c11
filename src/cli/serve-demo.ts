// `ringfence serve --demo`: once the service is up, submit one session over the real HTTP API
// (the sample project uploaded as its workspace), print its live events from the SSE stream, its
// result and the verdict of its audit log. What a client of the service does, end to end.
import { fileURLToPath } from 'node:url';
import { tarWorkspace } from '../sessions/workspace-tar.js';

const SAMPLE = fileURLToPath(new URL('../../examples/sample-workspace', import.meta.url));
const PROMPT = 'Fix the failing test in this project and run the tests.';

interface StreamEvent {
  seq: number;
  type: string;
  data: Record<string, string | number | boolean | object | undefined>;
}

/** Text of a scalar event field ('' for objects and absent fields). */
const field = (v: unknown): string =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';

async function api<T>(url: string, key: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(url, {
    ...init,
    headers: { authorization: `Bearer ${key}`, ...(init.headers ?? {}) },
  });
  const body = (await res.json()) as T & { error?: { code: string; message: string } };
  if (!res.ok)
    throw new Error(
      `${init.method ?? 'GET'} ${url}: ${res.status} ${body.error?.code ?? ''} ${body.error?.message ?? ''}`,
    );
  return body;
}

/** One line per event, like `ringfence run` prints them. */
function describe(e: StreamEvent): string | undefined {
  const d = e.data;
  switch (e.type) {
    case 'assistant': {
      const content =
        (d['message'] as { content?: { type: string; text?: string }[] })?.content ?? [];
      const text = content
        .filter((b) => b.type === 'text')
        .map((b) => b.text)
        .join(' ')
        .trim();
      return text ? `assistant: ${text}` : undefined;
    }
    case 'tool_decision':
      return `  ${d['behavior'] === 'allow' ? 'ALLOW' : 'DENY '} ${field(d['tool'])} (${field(d['decided_by'])}${d['rule'] ? `: ${field(d['rule'])}` : ''})`;
    case 'tool_result':
      return `  ${field(d['tool'])} ${d['is_error'] ? 'failed' : 'ok'}${d['exit_code'] === undefined ? '' : ` (exit ${field(d['exit_code'])})`}`;
    case 'result':
      return `result: ${field(d['subtype'])} in ${field(d['num_turns'])} turns, ${Math.round(Number(d['duration_ms']))} ms`;
    default:
      return undefined;
  }
}

export async function runServeDemo(
  baseUrl: string,
  key: string,
  out: NodeJS.WritableStream,
): Promise<boolean> {
  const tar = await tarWorkspace(SAMPLE);
  const upload = await api<{ uploadId: string }>(`${baseUrl}/v1/uploads`, key, {
    method: 'POST',
    headers: { 'content-type': 'application/gzip' },
    body: tar,
  });
  const created = await api<{ id: string }>(`${baseUrl}/v1/sessions`, key, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: PROMPT, workspace: { type: 'tar', uploadId: upload.uploadId } }),
  });
  out.write(
    `demo: POST /v1/sessions -> ${created.id}; streaming GET /v1/sessions/${created.id}/events\n`,
  );
  const res = await fetch(`${baseUrl}/v1/sessions/${created.id}/events`, {
    headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' },
  });
  let buffer = '';
  let success = false;
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = frame.split('\n').find((l) => l.startsWith('data: '));
      if (!data) continue;
      const event = JSON.parse(data.slice(6)) as StreamEvent;
      const line = describe(event);
      if (line) out.write(`${line}\n`);
      if (event.type === 'result') success = event.data['subtype'] === 'success';
    }
  }
  const verdict = await api<{ ok: boolean; records?: number }>(
    `${baseUrl}/v1/audit/verify?session=${created.id}`,
    key,
  );
  out.write(
    `demo: audit log of ${created.id}: ${verdict.ok ? 'verified' : 'FAILED'} (${verdict.records ?? '?'} records)\n`,
  );
  return success && verdict.ok;
}
