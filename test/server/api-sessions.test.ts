// In-process API tests: auth, roles, tenant isolation, validation field paths, 404s, session
// lifecycle routes, uploads and size limits, JSON error shape.
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call -- inject().json() is untyped JSON; the assertions check its shape */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeHarness, type Harness } from './api-harness.js';

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(async () => {
  await h.close();
});

async function createSession(key: string, body: Record<string, unknown> = { prompt: 'hi' }) {
  return h.app.inject({ method: 'POST', url: '/v1/sessions', headers: h.auth(key), payload: body });
}

function tarGzOf(files: Record<string, string>): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'rf-tar-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return gzipSync(execFileSync('tar', ['-C', dir, '-cf', '-', ...Object.keys(files)]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('authentication and roles', () => {
  it('rejects a request without a key with 401 and the JSON error shape', async () => {
    const r = await h.app.inject({ method: 'GET', url: '/v1/sessions' });
    expect(r.statusCode).toBe(401);
    expect(r.json()).toEqual({
      error: { code: 'unauthorized', message: expect.any(String), details: {} },
    });
  });

  it('rejects a wrong key and a revoked key', async () => {
    const bad = await h.app.inject({
      method: 'GET',
      url: '/v1/sessions',
      headers: h.auth('rf_nope'),
    });
    expect(bad.statusCode).toBe(401);
    const created = await h.stores.keys.createKey('tenant-a', 'read');
    await h.stores.keys.revokeKey(created.info.id);
    const revoked = await h.app.inject({
      method: 'GET',
      url: '/v1/sessions',
      headers: h.auth(created.key),
    });
    expect(revoked.statusCode).toBe(401);
  });

  it('stores only the sha256 of a key, never the key', async () => {
    const created = await h.stores.keys.createKey('tenant-a', 'read');
    const dump = JSON.stringify(h.stores.db.prepare('SELECT * FROM server_api_keys').all());
    expect(dump).not.toContain(created.key);
    expect(dump).toContain(created.info.id);
  });

  it('a read key cannot create a session (403 forbidden)', async () => {
    const r = await createSession(h.keys.aRead);
    expect(r.statusCode).toBe(403);
    expect(r.json().error.code).toBe('forbidden');
  });

  it('only admin keys create keys; the new key works and is shown once', async () => {
    expect(
      (
        await h.app.inject({
          method: 'POST',
          url: '/v1/keys',
          headers: h.auth(h.keys.aSubmit),
          payload: { role: 'read' },
        })
      ).statusCode,
    ).toBe(403);
    const r = await h.app.inject({
      method: 'POST',
      url: '/v1/keys',
      headers: h.auth(h.keys.aAdmin),
      payload: { role: 'read' },
    });
    expect(r.statusCode).toBe(201);
    const key = r.json().key as string;
    const list = await h.app.inject({ method: 'GET', url: '/v1/sessions', headers: h.auth(key) });
    expect(list.statusCode).toBe(200);
  });

  it('probes and the OpenAPI document need no key', async () => {
    expect((await h.app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await h.app.inject({ url: '/readyz' })).json().ok).toBe(true);
    const doc = (await h.app.inject({ url: '/openapi.json' })).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain('/v1/sessions/{id}/events');
  });
});

describe('sessions', () => {
  it('POST creates a queued session (202) with a queue task and GET returns it', async () => {
    const r = await createSession(h.keys.aSubmit, {
      prompt: 'fix it',
      mode: 'acceptEdits',
      maxTurns: 3,
      allowedTools: ['Read'],
      metadata: { ticket: 7 },
    });
    expect(r.statusCode).toBe(202);
    const { id } = r.json();
    const g = await h.app.inject({ url: `/v1/sessions/${id}`, headers: h.auth(h.keys.aRead) });
    expect(g.statusCode).toBe(200);
    expect(g.json()).toMatchObject({
      id,
      status: 'queued',
      prompt: 'fix it',
      mode: 'acceptEdits',
      env: 'dev',
      options: { maxTurns: 3, allowedTools: ['Read'] },
      metadata: { ticket: 7 },
    });
    const waiting = await h.stores.queue.list('waiting');
    expect(waiting.map((t) => t.sessionId)).toEqual([id]);
  });

  it('validation errors name each field path', async () => {
    const r = await createSession(h.keys.aSubmit, {
      prompt: '',
      maxTurns: 0,
      mode: 'yolo',
      extra: 1,
    });
    expect(r.statusCode).toBe(400);
    const body = r.json();
    expect(body.error.code).toBe('invalid_request');
    const paths = (body.error.details.issues as { path: string }[]).map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['prompt', 'maxTurns', 'mode']));
    expect(body.error.message).toContain('maxTurns:');
  });

  it('an unknown tier and a bad git workspace are refused with the field path; a good one is queued', async () => {
    const t = await createSession(h.keys.aSubmit, { prompt: 'x', env: 'moon' });
    expect(t.statusCode).toBe(400);
    expect(t.json().error.details.issues[0].path).toBe('env');
    for (const [workspace, path] of [
      [{ type: 'git', url: 'file:///etc/r.git' }, 'workspace.url'],
      [{ type: 'git', url: 'https://user:pw@example.invalid/r.git' }, 'workspace.url'],
      [
        { type: 'git', url: 'https://example.invalid/r.git', ref: '--upload-pack=x' },
        'workspace.ref',
      ],
    ] as const) {
      const g = await createSession(h.keys.aSubmit, { prompt: 'x', workspace });
      expect(g.statusCode, JSON.stringify(workspace)).toBe(400);
      expect(g.json().error.details.issues[0].path).toBe(path);
    }
    const ok = await createSession(h.keys.aSubmit, {
      prompt: 'x',
      workspace: { type: 'git', url: 'https://example.invalid/r.git', ref: 'v1.2' },
    });
    expect(ok.statusCode).toBe(202);
  });

  it('malformed JSON is a 400 invalid_request', async () => {
    const r = await h.app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: { ...h.auth(h.keys.aSubmit), 'content-type': 'application/json' },
      payload: '{nope',
    });
    expect(r.statusCode).toBe(400);
    expect(r.json().error.code).toBe('invalid_request');
  });

  it('tenant isolation: another tenant gets 404 for get, events, cancel, workspace, audit and sees none in list', async () => {
    const { id } = (await createSession(h.keys.aSubmit)).json();
    const b = h.auth(h.keys.bSubmit);
    for (const [method, url] of [
      ['GET', `/v1/sessions/${id}`],
      ['GET', `/v1/sessions/${id}/events?format=json`],
      ['POST', `/v1/sessions/${id}/cancel`],
      ['GET', `/v1/sessions/${id}/workspace`],
      ['GET', `/v1/sessions/${id}/audit`],
      ['GET', `/v1/audit/verify?session=${id}`],
    ] as const) {
      const r = await h.app.inject({ method, url, headers: b });
      expect(r.statusCode, url).toBe(404);
      expect(r.json().error.code).toBe('not_found');
    }
    const list = await h.app.inject({ url: '/v1/sessions', headers: b });
    expect(list.json().sessions).toEqual([]);
  });

  it('lists with status filter, limit and cursor', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await createSession(h.keys.aSubmit, { prompt: `p${i}` })).json().id);
    const p1 = (
      await h.app.inject({
        url: '/v1/sessions?limit=2&status=queued',
        headers: h.auth(h.keys.aRead),
      })
    ).json();
    expect(p1.sessions.map((s: { id: string }) => s.id)).toEqual([ids[2], ids[1]]);
    const p2 = (
      await h.app.inject({
        url: `/v1/sessions?limit=2&status=queued&cursor=${p1.nextCursor}`,
        headers: h.auth(h.keys.aRead),
      })
    ).json();
    expect(p2.sessions.map((s: { id: string }) => s.id)).toEqual([ids[0]]);
    expect(p2.nextCursor).toBeNull();
    const none = (
      await h.app.inject({ url: '/v1/sessions?status=succeeded', headers: h.auth(h.keys.aRead) })
    ).json();
    expect(none.sessions).toEqual([]);
    const bad = await h.app.inject({
      url: '/v1/sessions?limit=999',
      headers: h.auth(h.keys.aRead),
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details.issues[0].path).toBe('limit');
  });

  it('unknown session and unknown route are 404 JSON errors', async () => {
    const r = await h.app.inject({ url: '/v1/sessions/ses_nope', headers: h.auth(h.keys.aRead) });
    expect(r.statusCode).toBe(404);
    const n = await h.app.inject({ url: '/v1/nothing', headers: h.auth(h.keys.aRead) });
    expect(n.statusCode).toBe(404);
    expect(n.json().error.code).toBe('not_found');
  });

  it('cancel moves a queued session to cancelled and removes its task; finished sessions conflict', async () => {
    const { id } = (await createSession(h.keys.aSubmit)).json();
    const r = await h.app.inject({
      method: 'POST',
      url: `/v1/sessions/${id}/cancel`,
      headers: h.auth(h.keys.aSubmit),
    });
    expect(r.statusCode).toBe(200);
    expect((await h.stores.store.get(id))?.status).toBe('cancelled');
    expect(await h.stores.queue.list('waiting')).toEqual([]);
    expect((await h.stores.queue.list('cancelled')).length).toBe(1);
    const msg = await h.app.inject({
      method: 'POST',
      url: `/v1/sessions/${id}/messages`,
      headers: h.auth(h.keys.aSubmit),
      payload: { prompt: 'more' },
    });
    expect(msg.statusCode).toBe(409);
    expect(msg.json().error.code).toBe('conflict');
  });

  it('messages continue a finished session: status queued again, a new task, a user_message event', async () => {
    const { id } = (await createSession(h.keys.aSubmit)).json();
    const running = await h.app.inject({
      method: 'POST',
      url: `/v1/sessions/${id}/messages`,
      headers: h.auth(h.keys.aSubmit),
      payload: { prompt: 'again' },
    });
    expect(running.statusCode).toBe(409);
    // Finish the session the way a worker would: lease, mark succeeded with the epoch, complete.
    const lease = await h.stores.queue.lease('w1', { visibilityMs: 10_000 });
    if (lease === undefined) throw new Error('no lease');
    await h.stores.store.updateStatus(id, 'running', { epoch: lease.epoch });
    await h.stores.store.updateStatus(id, 'succeeded', { epoch: lease.epoch, result: 'done' });
    await h.stores.queue.complete(lease.task.id, lease.epoch);
    const r = await h.app.inject({
      method: 'POST',
      url: `/v1/sessions/${id}/messages`,
      headers: h.auth(h.keys.aSubmit),
      payload: { prompt: 'again' },
    });
    expect(r.statusCode).toBe(202);
    expect((await h.stores.store.get(id))?.status).toBe('queued');
    const waiting = await h.stores.queue.list('waiting');
    expect(waiting).toHaveLength(1);
    expect(waiting[0]?.payload).toEqual({ kind: 'session', prompt: 'again' });
    const ev = (
      await h.app.inject({
        url: `/v1/sessions/${id}/events?format=json`,
        headers: h.auth(h.keys.aRead),
      })
    ).json();
    expect(ev.events.map((e: { type: string }) => e.type)).toEqual(['user_message']);
  });

  it('approvals: 404 when nothing waits; a registered running session gets the answer', async () => {
    const { id } = (await createSession(h.keys.aSubmit)).json();
    const none = await h.app.inject({
      method: 'POST',
      url: `/v1/sessions/${id}/approvals/req1`,
      headers: h.auth(h.keys.aSubmit),
      payload: { behavior: 'allow' },
    });
    expect(none.statusCode).toBe(404);
    const answers: unknown[] = [];
    h.ctx.control.register(id, {
      respond: (rid, a) => (answers.push([rid, a]), rid === 'req1'),
      abort: () => undefined,
    });
    const bad = await h.app.inject({
      method: 'POST',
      url: `/v1/sessions/${id}/approvals/req1`,
      headers: h.auth(h.keys.aSubmit),
      payload: { behavior: 'maybe' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details.issues[0].path).toBe('behavior');
    const ok = await h.app.inject({
      method: 'POST',
      url: `/v1/sessions/${id}/approvals/req1`,
      headers: h.auth(h.keys.aSubmit),
      payload: { behavior: 'deny', message: 'no' },
    });
    expect(ok.statusCode).toBe(200);
    expect(answers).toEqual([['req1', { behavior: 'deny', message: 'no' }]]);
  });

  it('uploads a tar.gz, starts a session from it and serves it back as the workspace', async () => {
    const tgz = tarGzOf({ 'a.txt': 'hello' });
    const up = await h.app.inject({
      method: 'POST',
      url: '/v1/uploads',
      headers: { ...h.auth(h.keys.aSubmit), 'content-type': 'application/gzip' },
      payload: tgz,
    });
    expect(up.statusCode).toBe(201);
    const { uploadId } = up.json();
    const { id } = (
      await createSession(h.keys.aSubmit, { prompt: 'x', workspace: { type: 'tar', uploadId } })
    ).json();
    const ws = await h.app.inject({
      url: `/v1/sessions/${id}/workspace`,
      headers: h.auth(h.keys.aRead),
    });
    expect(ws.statusCode).toBe(200);
    expect(ws.headers['content-type']).toBe('application/gzip');
    expect(ws.rawPayload.equals(tgz)).toBe(true);
  });

  it('refuses a non-gzip upload, an unknown uploadId, and a session without snapshot has no workspace', async () => {
    const up = await h.app.inject({
      method: 'POST',
      url: '/v1/uploads',
      headers: { ...h.auth(h.keys.aSubmit), 'content-type': 'application/gzip' },
      payload: Buffer.from('not gzip'),
    });
    expect(up.statusCode).toBe(400);
    const missing = await createSession(h.keys.aSubmit, {
      prompt: 'x',
      workspace: { type: 'tar', uploadId: 'a'.repeat(64) },
    });
    expect(missing.statusCode).toBe(404);
    const { id } = (await createSession(h.keys.aSubmit)).json();
    expect(
      (await h.app.inject({ url: `/v1/sessions/${id}/workspace`, headers: h.auth(h.keys.aRead) }))
        .statusCode,
    ).toBe(404);
  });
});

describe('size limits', () => {
  it('a JSON body over the limit and an upload over the upload limit are 413 invalid_request', async () => {
    await h.close();
    h = await makeHarness({ api: { bodyLimitBytes: 1024, uploadLimitBytes: 2048 } });
    const big = await createSession(h.keys.aSubmit, { prompt: 'x'.repeat(5000) });
    expect(big.statusCode).toBe(413);
    expect(big.json().error).toMatchObject({
      code: 'invalid_request',
      details: { reason: 'body_too_large' },
    });
    const up = await h.app.inject({
      method: 'POST',
      url: '/v1/uploads',
      headers: { ...h.auth(h.keys.aSubmit), 'content-type': 'application/gzip' },
      payload: Buffer.alloc(4096),
    });
    expect(up.statusCode).toBe(413);
  });
});
