// The contract of one agent tool: a name, a JSON schema the model sees, a zod schema that
// validates the input, and `run`, which executes inside the sandbox and never throws for tool errors.
import type { z } from 'zod';
import type { Sandbox } from '../../sandbox/driver.js';

export interface ToolContext {
  readonly sandbox: Sandbox;
  readonly signal: AbortSignal;
  /** Per-call wall clock cap for tools that exec (ms). */
  readonly execTimeoutMs: number;
  /** True when a deny rule hides `path` (absolute sandbox path) from `tool`. */
  readonly isPathDenied: (tool: 'Read' | 'Glob' | 'Grep', path: string) => boolean;
}

export interface ToolOutcome {
  /** Text the model sees (before redaction and truncation, which the executor applies). */
  content: string;
  isError: boolean;
  exitCode?: number;
  /** Shell cwd after a Bash call (for the permission engine's path rules). */
  cwd?: string;
}

/** The JSON schema sent to the model as `input_schema`. */
export interface JsonSchemaObject {
  type: 'object';
  properties: Record<string, unknown>;
  required?: string[];
  additionalProperties?: boolean;
}

export interface AgentTool<S extends z.ZodTypeAny = z.ZodTypeAny> {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: JsonSchemaObject;
  readonly schema: S;
  run(input: z.infer<S>, ctx: ToolContext): Promise<ToolOutcome>;
}

/** A failed tool call the model sees as `is_error`. */
export function toolError(message: string, exitCode?: number): ToolOutcome {
  return { content: message, isError: true, ...(exitCode === undefined ? {} : { exitCode }) };
}
