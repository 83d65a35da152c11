// The built-in tool set (Claude Code's names and input schemas), all executed inside the sandbox.
import { BashTool } from './bash-tool.js';
import { EditTool } from './edit-tool.js';
import { GlobTool } from './glob-tool.js';
import { GrepTool } from './grep-tool.js';
import { ReadTool } from './read-tool.js';
import { WebFetchTool } from './web-fetch-tool.js';
import { WriteTool } from './write-tool.js';
import type { AgentTool } from './agent-tool.js';

/** A fresh set per session (Bash keeps a per-session marker). */
export function createBuiltinTools(): AgentTool[] {
  return [
    new BashTool(),
    new ReadTool(),
    new WriteTool(),
    new EditTool(),
    new GlobTool(),
    new GrepTool(),
    new WebFetchTool(),
  ] as AgentTool[];
}
