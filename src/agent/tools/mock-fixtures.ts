// Mock tools (policy.tools.mock / the mockTools feature): after the permission check and audit
// intent, a call is answered from a fixtures file instead of running. First matching entry wins.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../../errors.js';
import type { ToolOutcome } from './agent-tool.js';

/** The shipped fixtures (examples/fixtures/mock-tools.yaml). */
export const DEFAULT_FIXTURES_PATH = fileURLToPath(
  new URL('../../../examples/fixtures/mock-tools.yaml', import.meta.url),
);

export const mockFixtureSchema = z
  .object({
    tool: z.string().min(1).describe('Tool name (Bash, Read, mcp__srv__tool...). "*" matches any.'),
    match: z
      .record(z.string())
      .optional()
      .describe(
        'Input field → regular expression the field (as text) must match. Absent: any input.',
      ),
    result: z.string().describe('Text returned to the model.'),
    isError: z.boolean().default(false).describe('Return it as a tool error. Absent: false.'),
  })
  .strict();

export const mockFixturesSchema = z
  .object({ fixtures: z.array(mockFixtureSchema).default([]).describe('Tried in order.') })
  .strict();

export type MockFixture = z.infer<typeof mockFixtureSchema>;

export class MockFixtures {
  readonly #fixtures: readonly { fixture: MockFixture; match: [string, RegExp][] }[];

  constructor(fixtures: readonly MockFixture[]) {
    this.#fixtures = fixtures.map((fixture) => ({
      fixture,
      match: Object.entries(fixture.match ?? {}).map(
        ([k, v]) => [k, new RegExp(v)] as [string, RegExp],
      ),
    }));
  }

  static load(path: string = DEFAULT_FIXTURES_PATH): MockFixtures {
    let raw: unknown;
    try {
      raw = parseYaml(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new ConfigError(
        `${path}: cannot read mock fixtures`,
        [{ path: '', message: (err as Error).message }],
        { cause: err },
      );
    }
    const parsed = mockFixturesSchema.safeParse(raw);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({
        path: i.path.join('.'),
        message: i.message,
      }));
      throw new ConfigError(`${path}: invalid mock fixtures`, issues);
    }
    return new MockFixtures(parsed.data.fixtures);
  }

  /** The fixture's answer, or an error result naming the missing fixture. */
  answer(tool: string, input: Record<string, unknown>): ToolOutcome {
    for (const { fixture, match } of this.#fixtures) {
      if (fixture.tool !== tool && fixture.tool !== '*') continue;
      const fits = match.every(([field, re]) => {
        const value = input[field];
        return re.test(typeof value === 'string' ? value : JSON.stringify(value ?? ''));
      });
      if (fits) return { content: fixture.result, isError: fixture.isError };
    }
    return { content: `[mock] no fixture answers ${tool} with this input`, isError: true };
  }
}
