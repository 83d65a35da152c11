// Connects the policy's MCP servers (stdio ones as processes INSIDE the sandbox, remote ones via
// an in-sandbox bridge through the egress proxy) and exposes their
// tools as mcp__server__tool; annotations go to the permission engine (unannotated = destructive).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { z } from 'zod';
import type { McpServerConfig } from '../../policy/policy-schema.js';
import type { Sandbox } from '../../sandbox/driver.js';
import type { McpToolInfo, PermissionLogger } from '../permissions/index.js';
import type { AgentTool, JsonSchemaObject, ToolOutcome } from '../tools/agent-tool.js';
import { SandboxStdioTransport } from './sandbox-stdio-transport.js';
import { remoteBridgeCommand } from './remote-bridge.js';

/** How long a server has to answer initialize + tools/list: 20 s. */
export const MCP_CONNECT_TIMEOUT_MS = 20_000;
/** Lifetime cap of a server process: 24 h (the session deadline ends it sooner). */
const MCP_SERVER_LIFETIME_MS = 24 * 3600 * 1000;

export interface McpConnection {
  name: string;
  tools: AgentTool[];
  infos: McpToolInfo[];
  /** Set when the server could not be started; it then has no tools. */
  error?: string;
  close(): Promise<void>;
}

const anyInput = z.record(z.unknown());

function textOf(content: unknown): string {
  if (!Array.isArray(content)) return '';
  return content
    .map((c: { type?: string; text?: string }) =>
      c.type === 'text' ? (c.text ?? '') : `[${c.type ?? 'content'}]`,
    )
    .join('\n');
}

async function connectOne(
  name: string,
  cfg: McpServerConfig,
  sandbox: Sandbox,
  opts: { signal: AbortSignal; logger: PermissionLogger },
): Promise<McpConnection> {
  // A remote server is reached from inside the sandbox too, through a bridge that speaks stdio to
  // us and HTTP through the session's egress proxy to the server.
  const argv = 'url' in cfg ? remoteBridgeCommand(cfg.url, cfg.headers) : cfg.command;
  const transport = new SandboxStdioTransport(sandbox, argv, {
    env: 'url' in cfg ? {} : cfg.env,
    timeoutMs: MCP_SERVER_LIFETIME_MS,
    ...('url' in cfg || cfg.cwd === undefined ? {} : { cwd: cfg.cwd }),
    onStderr: (t) => opts.logger.debug({ server: name, stderr: t }, 'mcp stderr'),
  });
  const client = new Client({ name: 'ringfence', version: '0.1.0' });
  const close = async (): Promise<void> => {
    await client.close().catch(() => undefined);
  };
  try {
    await client.connect(transport, { timeout: MCP_CONNECT_TIMEOUT_MS, signal: opts.signal });
    const listed = await client.listTools(undefined, {
      timeout: MCP_CONNECT_TIMEOUT_MS,
      signal: opts.signal,
    });
    const infos: McpToolInfo[] = [];
    const tools: AgentTool[] = [];
    for (const t of listed.tools) {
      const full = `mcp__${name}__${t.name}`;
      if (!/^mcp__[A-Za-z0-9_-]+__[A-Za-z0-9_.-]+$/.test(full)) continue;
      infos.push({
        name: full,
        ...(t.annotations?.readOnlyHint === undefined
          ? {}
          : { annotations: { readOnlyHint: t.annotations.readOnlyHint } }),
      });
      tools.push({
        name: full,
        description: t.description ?? `MCP tool ${t.name} of ${name}`,
        inputSchema: t.inputSchema as JsonSchemaObject,
        schema: anyInput,
        run: async (input, ctx): Promise<ToolOutcome> => {
          const r = await client.callTool(
            { name: t.name, arguments: input as Record<string, unknown> },
            undefined,
            {
              signal: ctx.signal,
              timeout: ctx.execTimeoutMs,
            },
          );
          return {
            content: textOf(r.content) || JSON.stringify(r.structuredContent ?? {}),
            isError: r.isError === true,
          };
        },
      });
    }
    return { name, tools, infos, close };
  } catch (err) {
    await close();
    return {
      name,
      tools: [],
      infos: [],
      error: err instanceof Error ? err.message : String(err),
      close,
    };
  }
}

/** Starts every server; a server that fails is reported (error) and contributes no tools. */
export async function connectMcpServers(
  servers: Readonly<Record<string, McpServerConfig>>,
  sandbox: Sandbox,
  opts: { signal: AbortSignal; logger: PermissionLogger },
): Promise<McpConnection[]> {
  return Promise.all(
    Object.entries(servers).map(([name, cfg]) => connectOne(name, cfg, sandbox, opts)),
  );
}
