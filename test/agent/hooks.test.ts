// Hooks: command hooks from the policy run INSIDE the sandbox (PreToolUse deny and input rewrite,
// PostToolUse context, SessionStart); TypeScript callbacks fire with their payloads.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type {
  PostToolUseEvent,
  SessionHookEvent,
  StopEvent,
} from '../../src/agent/hooks/agent-hooks.js';
import { missingBubblewrap, reportSkip } from '../helpers/capabilities.js';
import { closeDriver, decisions, say, startHarness, toolResults, turn } from './harness.js';

const skip = reportSkip('agent hooks', missingBubblewrap());

// Each command hook logs its stdin payload to the workspace, a path that exists only in the sandbox.
const LOG = (name: string): string => `{ cat; echo; } >> /workspace/${name}.jsonl`;
const PRE_BASH = `p=$(cat); printf '%s\\n' "$p" >> /workspace/pre.jsonl; case "$p" in *'rm -rf'*) echo "no rm -rf in this project" >&2; exit 2;; esac`;
const PRE_WRITE = `python3 -c 'import json,sys; e=json.load(sys.stdin); i=e["tool_input"]; i["file_path"]="hooked-"+i["file_path"]; print(json.dumps({"updatedInput": i}))'`;
const POST_BASH = `${LOG('post')}; echo '{"additionalContext":"checked by the post hook"}'`;

function jsonl(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe.skipIf(skip)('agent hooks', () => {
  afterAll(closeDriver);

  it('command hooks deny, rewrite and add context inside the sandbox; callbacks get their payloads', async () => {
    const h = await startHarness({
      sample: false,
      policy: {
        tools: {
          mode: 'acceptEdits',
          allow: ['Bash(echo:*)', 'Bash(rm:*)'],
          hooks: [
            { event: 'SessionStart', command: LOG('start') },
            { event: 'PreToolUse', matcher: 'Bash', command: PRE_BASH },
            { event: 'PreToolUse', matcher: 'Write|Edit', command: PRE_WRITE },
            { event: 'PostToolUse', matcher: 'Bash', command: POST_BASH },
          ],
        },
      },
      turns: [
        turn(['Bash', { command: 'rm -rf src' }]),
        turn(['Write', { file_path: 'out.txt', content: 'hi' }]),
        turn(['Bash', { command: 'echo hello' }]),
        say('first done'),
        say('really done'),
      ],
    });
    try {
      const post: PostToolUseEvent[] = [];
      const stops: StopEvent[] = [];
      const starts: SessionHookEvent[] = [];
      const ends: SessionHookEvent[] = [];
      const { events, result, run } = await h.run('use hooks', {
        hooks: {
          PostToolUse: [
            async (e) => {
              post.push(e);
            },
          ],
          Stop: [
            async (e) => {
              stops.push(e);
              return e.stopHookActive
                ? undefined
                : { decision: 'block', reason: 'also run the tests' };
            },
          ],
          SessionStart: [
            async (e) => {
              starts.push(e);
            },
          ],
          SessionEnd: [
            async (e) => {
              ends.push(e);
            },
          ],
        },
      });
      expect(result).toMatchObject({ subtype: 'success', result: 'really done', num_turns: 5 });
      const sid = run.sessionId;

      // PreToolUse command hook (exit 2) denied the rm, with its stderr as the reason.
      const d = decisions(events);
      expect(d[0]).toMatchObject({ tool: 'Bash', behavior: 'deny', decided_by: 'hook' });
      expect(d[0]?.message).toContain('no rm -rf in this project');
      const pre = jsonl(join(h.workspace, 'pre.jsonl'));
      expect(pre[0]).toMatchObject({
        hook_event_name: 'PreToolUse',
        session_id: sid,
        tool_name: 'Bash',
        tool_input: { command: 'rm -rf src' },
      });
      // The rewrite hook changed Write's path; the tool ran with the rewritten input.
      expect(d[1]).toMatchObject({
        tool: 'Write',
        behavior: 'allow',
        input: { file_path: 'hooked-out.txt', content: 'hi' },
      });
      expect(readFileSync(join(h.workspace, 'hooked-out.txt'), 'utf8')).toBe('hi');
      expect(existsSync(join(h.workspace, 'out.txt'))).toBe(false);
      // PostToolUse command hook: got the tool response, its context reached the model.
      const outs = toolResults(events);
      expect(outs[2]?.content).toBe('hello\nchecked by the post hook');
      const postLog = jsonl(join(h.workspace, 'post.jsonl'));
      expect(postLog).toHaveLength(1);
      expect(postLog[0]).toMatchObject({
        hook_event_name: 'PostToolUse',
        session_id: sid,
        tool_name: 'Bash',
        tool_input: { command: 'echo hello' },
        tool_response: { content: 'hello', isError: false },
      });
      expect(jsonl(join(h.workspace, 'start.jsonl'))).toEqual([
        { hook_event_name: 'SessionStart', session_id: sid },
      ]);

      // TypeScript callbacks.
      expect(starts).toEqual([{ sessionId: sid }]);
      expect(post.map((p) => p.tool)).toEqual(['Write', 'Bash']);
      expect(post[0]).toMatchObject({
        sessionId: sid,
        input: { file_path: 'hooked-out.txt', content: 'hi' },
        result: { isError: false },
      });
      expect(post[1]).toMatchObject({
        sessionId: sid,
        tool: 'Bash',
        input: { command: 'echo hello' },
        result: { content: 'hello', isError: false },
      });
      expect(post[1]?.toolUseId).toMatch(/\S/);
      expect(stops).toEqual([
        { sessionId: sid, lastMessage: 'first done', stopHookActive: false },
        { sessionId: sid, lastMessage: 'really done', stopHookActive: true },
      ]);
      // The Stop block went to the model as the next user turn.
      const msgs = (h.requests[4]?.body as { messages: { role: string; content: unknown }[] })
        .messages;
      expect(msgs.at(-1)).toEqual({ role: 'user', content: 'also run the tests' });
      expect(ends).toEqual([{ sessionId: sid, reason: 'success' }]);
      // The Stop block is audited.
      const audit = (await h.auditStore.readRecords(sid)).map(
        (r) => JSON.parse(r.text) as { type: string; data: Record<string, unknown> },
      );
      expect(audit.filter((r) => r.type === 'hook').map((r) => r.data)).toEqual([
        { event: 'Stop', decision: 'block' },
      ]);
      expect(
        audit
          .filter((r) => r.type === 'tool.intent')
          .map((r) => [r.data['tool'], r.data['decidedBy']]),
      ).toEqual([
        ['Bash', 'hook'],
        ['Write', 'mode'],
        ['Bash', 'allow-rule'],
      ]);
    } finally {
      await h.close();
    }
  });

  it('SessionEnd callbacks get the failure subtype', async () => {
    const h = await startHarness({
      sample: false,
      turns: [turn(['Bash', { command: 'echo 1' }]), turn(['Bash', { command: 'echo 2' }])],
    });
    try {
      const ends: SessionHookEvent[] = [];
      const { result, run } = await h.run('loop', {
        maxTurns: 1,
        hooks: {
          SessionEnd: [
            async (e) => {
              ends.push(e);
            },
          ],
        },
      });
      expect(result.subtype).toBe('error_max_turns');
      expect(ends).toEqual([{ sessionId: run.sessionId, reason: 'error_max_turns' }]);
    } finally {
      await h.close();
    }
  });
});
