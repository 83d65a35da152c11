// The session events runAgent yields, shaped like the Claude Agent SDK's messages (system/init,
// assistant, user, result) plus ringfence's own tool-decision, approval and gateway events.
import type Anthropic from '@anthropic-ai/sdk';
import type { GatewayEvent } from '../models/model-gateway.js';
import type { DecidedBy, PermissionMode, ToolInput } from './permissions/index.js';

export type ResultSubtype =
  | 'success'
  | 'error_max_turns'
  | 'error_during_execution'
  | 'error_max_budget_usd'
  | 'error_timeout';

export interface AgentUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

export interface PermissionDenial {
  tool_name: string;
  tool_use_id: string;
  tool_input: ToolInput;
  reason: string;
}

export interface SystemInitEvent {
  type: 'system';
  subtype: 'init';
  session_id: string;
  tools: string[];
  mcp_servers: { name: string; status: 'connected' | 'failed'; error?: string }[];
  model: string;
  permissionMode: PermissionMode;
  cwd: string;
}

export interface AssistantEvent {
  type: 'assistant';
  session_id: string;
  message: Anthropic.Message;
  /** Route (`provider:model`) that answered and its cost, when known. */
  route: string;
  cost_usd: number | undefined;
}

export interface UserEvent {
  type: 'user';
  session_id: string;
  message: { role: 'user'; content: Anthropic.ToolResultBlockParam[] };
}

export interface ToolDecisionEvent {
  type: 'tool_decision';
  session_id: string;
  tool_use_id: string;
  tool: string;
  input: ToolInput;
  behavior: 'allow' | 'deny';
  decided_by: DecidedBy | 'audit' | 'invalid-input';
  rule?: string;
  message: string;
}

export interface ToolResultEvent {
  type: 'tool_result';
  session_id: string;
  tool_use_id: string;
  tool: string;
  is_error: boolean;
  duration_ms: number;
  output_bytes: number;
  exit_code?: number;
  mocked: boolean;
}

export interface ApprovalRequestEvent {
  type: 'approval_request';
  session_id: string;
  request_id: string;
  tool: string;
  input: ToolInput;
  tool_use_id: string;
  reason: string;
}

export interface ApprovalResolvedEvent {
  type: 'approval_resolved';
  session_id: string;
  request_id: string;
  behavior: 'allow' | 'deny';
  outcome: 'answered' | 'timeout' | 'aborted' | 'error';
}

export interface GatewayAgentEvent {
  type: 'gateway';
  session_id: string;
  event: GatewayEvent;
}

/** Streaming text of the assistant message in progress (not stored in the transcript). */
export interface TextDeltaEvent {
  type: 'text_delta';
  session_id: string;
  text: string;
}

export interface ResultEvent {
  type: 'result';
  subtype: ResultSubtype;
  session_id: string;
  is_error: boolean;
  /** Final assistant text (success) or the error. */
  result: string;
  /** One line: why the loop stopped. */
  stop_reason: string;
  num_turns: number;
  duration_ms: number;
  usage: AgentUsage;
  total_cost_usd: number;
  permission_denials: PermissionDenial[];
}

export type AgentEvent =
  | SystemInitEvent
  | AssistantEvent
  | UserEvent
  | ToolDecisionEvent
  | ToolResultEvent
  | ApprovalRequestEvent
  | ApprovalResolvedEvent
  | GatewayAgentEvent
  | TextDeltaEvent
  | ResultEvent;
