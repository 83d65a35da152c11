// Public surface of the permission engine (layer 3): the engine, rule parsing, shell analysis.
// The agent loop imports from here only.
export { PermissionEngine, DEFAULT_HOOK_TIMEOUT_MS } from './permission-engine.js';
export type { PermissionEngineOptions } from './permission-engine.js';
export { DEFAULT_APPROVAL_TIMEOUT_MS } from './approval-gate.js';
export { parseRule, bashPatternMatches } from './rule.js';
export type { ParsedRule, BashPattern } from './rule.js';
export { parsePathSpecifier, resolveToolPath } from './path-rule.js';
export { compileGlob } from './glob-match.js';
export { parseShell } from './shell-parse.js';
export type { ShellParse, SimpleCommand, Redirection } from './shell-parse.js';
export { analyzeShell, canonical } from './shell-analyze.js';
export type { ShellAnalysis, CommandUse } from './shell-analyze.js';
export { isDangerousEnv } from './shell-env.js';
export { ToolCatalog, BUILTIN_TOOLS, describeMcpTool } from './tool-catalog.js';
export type { ToolDescriptor, ToolKind, McpToolInfo } from './tool-catalog.js';
export type * from './types.js';
