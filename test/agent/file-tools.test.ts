// File tools through the real loop and sandbox: Edit (unique match, replace_all, not found), Read
// (offset/limit, size cap), Grep (content with -C, files_with_matches, count) and the head+tail
// truncation of long output before the model sees it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { READ_MAX_BYTES } from '../../src/agent/tools/read-tool.js';
import { missingBubblewrap, reportSkip } from '../helpers/capabilities.js';
import { closeDriver, decisions, say, startHarness, toolResults, turn } from './harness.js';

const skip = reportSkip('agent file tools', missingBubblewrap());

describe.skipIf(skip)('agent file tools', () => {
  afterAll(closeDriver);

  it('Edit, Read, Grep and output truncation behave as documented', async () => {
    const h = await startHarness({
      policy: { tools: { mode: 'acceptEdits', allow: ['Bash(cat:*)'] } },
      turns: [
        turn(
          ['Edit', { file_path: 'ft/multi.txt', old_string: 'foo', new_string: 'bar' }],
          [
            'Edit',
            { file_path: 'ft/multi.txt', old_string: 'foo', new_string: 'bar', replace_all: true },
          ],
          ['Edit', { file_path: 'ft/multi.txt', old_string: 'missing', new_string: 'x' }],
        ),
        turn(
          ['Read', { file_path: 'ft/lines.txt', offset: 3, limit: 2 }],
          ['Read', { file_path: 'ft/big.txt' }],
          ['Read', { file_path: 'ft/big.txt', offset: 2000, limit: 2 }],
        ),
        turn(
          [
            'Grep',
            { pattern: 'needle', path: 'ft', glob: '*.js', output_mode: 'content', '-C': 1 },
          ],
          ['Grep', { pattern: 'needle', path: 'ft' }],
          ['Grep', { pattern: 'NEEDLE', path: 'ft', output_mode: 'count', '-i': true }],
        ),
        turn(['Bash', { command: 'cat ft/long.txt' }]),
        say('done'),
      ],
    });
    try {
      // Fixtures go in through the sandbox so they belong to the sandbox's user.
      const ft = join(h.workspace, 'ft');
      await h.sandbox.exec(['mkdir', '/workspace/ft']);
      const put = (name: string, text: string): Promise<void> =>
        h.sandbox.writeFile(`ft/${name}`, text);
      await put('multi.txt', 'foo one\nfoo two\nfoo three\n');
      await put('lines.txt', Array.from({ length: 10 }, (_, i) => `line ${i + 1}\n`).join(''));
      const bigLine = `${'x'.repeat(99)}\n`;
      const bigLines = Math.ceil((READ_MAX_BYTES + 1) / bigLine.length);
      await put('big.txt', bigLine.repeat(bigLines));
      await put('a.js', 'alpha\nneedle one\nbeta\ngamma\ndelta\nneedle two\n');
      await put('b.txt', 'needle in text\n');
      await put('c.js', 'nothing here\n');
      await put('long.txt', `${'A'.repeat(200)}${'B'.repeat(600)}${'C'.repeat(200)}`);

      const { events, result } = await h.run('exercise the file tools', { maxOutputChars: 400 });
      expect(result.subtype).toBe('success');
      expect(decisions(events).every((d) => d.behavior === 'allow')).toBe(true);
      const outs = toolResults(events);

      // Edit: a non-unique old_string is an error result and changes nothing...
      expect(outs[0]).toEqual({
        content:
          'old_string occurs 3 times in ft/multi.txt; give more context to make it unique or set replace_all',
        isError: true,
      });
      // ...replace_all replaces every occurrence; a missing old_string is an error.
      expect(outs[1]).toEqual({ content: 'Edited ft/multi.txt: 3 replacement(s)', isError: false });
      expect(outs[2]).toEqual({ content: 'old_string not found in ft/multi.txt', isError: true });
      expect(readFileSync(join(ft, 'multi.txt'), 'utf8')).toBe('bar one\nbar two\nbar three\n');

      // Read: a line range with numbering and what is left; the whole-file size cap.
      expect(outs[3]).toEqual({
        content: '     3\tline 3\n     4\tline 4\n(6 more lines; use offset to read on)',
        isError: false,
      });
      expect(outs[4]?.isError).toBe(true);
      expect(outs[4]?.content).toMatch(/^File is larger than 262144 bytes .*offset and limit/);
      expect(outs[5]).toEqual({
        content: `  2000\t${'x'.repeat(99)}\n  2001\t${'x'.repeat(99)}\n(${bigLines - 2001} more lines; use offset to read on)`,
        isError: false,
      });

      // Grep: content with context lines and group separators, only the globbed files.
      expect(outs[6]).toEqual({
        content: [
          '/workspace/ft/a.js:1-alpha',
          '/workspace/ft/a.js:2:needle one',
          '/workspace/ft/a.js:3-beta',
          '--',
          '/workspace/ft/a.js:5-delta',
          '/workspace/ft/a.js:6:needle two',
        ].join('\n'),
        isError: false,
      });
      expect(outs[7]?.isError).toBe(false);
      expect(outs[7]?.content.split('\n').sort()).toEqual([
        '/workspace/ft/a.js',
        '/workspace/ft/b.txt',
      ]);
      expect(outs[8]?.content.split('\n').sort()).toEqual([
        '/workspace/ft/a.js:2',
        '/workspace/ft/b.txt:1',
      ]);

      // Truncation: head + tail with the count of characters dropped.
      expect(outs[9]).toEqual({
        content: `${'A'.repeat(200)}\n… [600 characters truncated] …\n${'C'.repeat(200)}`,
        isError: false,
      });
      // The model received exactly that truncated text.
      expect(JSON.stringify(h.requests[4]?.body)).toContain('… [600 characters truncated] …');
      // The tool_result event reports the full output size before truncation.
      const bash = events.filter((e) => e.type === 'tool_result' && e.tool === 'Bash');
      expect(bash).toMatchObject([{ output_bytes: 1000 }]);
    } finally {
      await h.close();
    }
  });
});
