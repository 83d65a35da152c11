// The tools the engine knows, with their kind and read-only flag. Built-ins are fixed; MCP tools
// are read-only only when annotated `readOnlyHint: true` (unannotated = destructive).

export type ToolKind = 'bash' | 'read' | 'edit' | 'glob' | 'grep' | 'webfetch' | 'mcp' | 'other';

export interface ToolDescriptor {
  readonly name: string;
  readonly kind: ToolKind;
  /** May run in plan mode. */
  readonly readOnly: boolean;
  /** Reaches the network (never auto-approved as a "read"). */
  readonly network?: boolean;
}

export const BUILTIN_TOOLS: readonly ToolDescriptor[] = Object.freeze([
  { name: 'Read', kind: 'read', readOnly: true },
  { name: 'Glob', kind: 'glob', readOnly: true },
  { name: 'Grep', kind: 'grep', readOnly: true },
  { name: 'WebFetch', kind: 'webfetch', readOnly: true, network: true },
  { name: 'Bash', kind: 'bash', readOnly: false },
  { name: 'Write', kind: 'edit', readOnly: false },
  { name: 'Edit', kind: 'edit', readOnly: false },
]);

export interface McpToolInfo {
  /** Full name `mcp__server__tool`. */
  readonly name: string;
  readonly annotations?: { readonly readOnlyHint?: boolean };
}

/** Describes an MCP tool; only an explicit `readOnlyHint: true` makes it read-only. */
export function describeMcpTool(info: McpToolInfo): ToolDescriptor {
  if (!/^mcp__[A-Za-z0-9_-]+__[A-Za-z0-9_.-]+$/.test(info.name)) {
    throw new TypeError(`MCP tool names look like mcp__server__tool: ${info.name}`);
  }
  return { name: info.name, kind: 'mcp', readOnly: info.annotations?.readOnlyHint === true };
}

/** Name → descriptor; a tool missing here is unknown and always denied. */
export class ToolCatalog {
  readonly #tools = new Map<string, ToolDescriptor>();

  constructor(tools: readonly ToolDescriptor[] = BUILTIN_TOOLS, mcp: readonly McpToolInfo[] = []) {
    for (const t of tools) this.#tools.set(t.name, Object.freeze({ ...t }));
    for (const m of mcp) this.add(describeMcpTool(m));
  }

  get(name: string): ToolDescriptor | undefined {
    return this.#tools.get(name);
  }

  /** Registers a tool discovered later (an MCP server connecting). */
  add(tool: ToolDescriptor): void {
    this.#tools.set(tool.name, Object.freeze({ ...tool }));
  }
}
