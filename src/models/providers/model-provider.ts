// The one contract every model provider implements (anthropic, bedrock, vertex, scripted):
// a non-streaming call and a streaming call, both returning the final Anthropic Message.
import type Anthropic from '@anthropic-ai/sdk';
import type { ModelRoute } from '../../config/config-schema.js';

export type MessageParams = Omit<Anthropic.MessageCreateParamsNonStreaming, 'stream'>;
export type Message = Anthropic.Message;
export type StreamEvent = Anthropic.RawMessageStreamEvent;

export interface ProviderCallOptions {
  signal?: AbortSignal | undefined;
  /** Per-attempt timeout; a hung connection fails with kind `timeout` after it. */
  timeoutMs: number;
  /** Streaming only: every raw event as it arrives. */
  onEvent?: ((e: StreamEvent) => void) | undefined;
}

export interface ModelProvider {
  /** Stable key `provider:model` used for breakers, limiters, metrics and prices. */
  readonly key: string;
  readonly route: Readonly<ModelRoute>;
  /** Starts what the provider needs (the scripted server); idempotent. */
  init(): Promise<void>;
  create(params: MessageParams, opts: ProviderCallOptions): Promise<Message>;
  stream(params: MessageParams, opts: ProviderCallOptions): Promise<Message>;
  /** Idempotent; returns the in-flight closing promise. */
  close(): Promise<void>;
}

/** `provider:model`, e.g. `anthropic:claude-sonnet-4-5`. */
export function routeKey(route: Pick<ModelRoute, 'provider' | 'model'>): string {
  return `${route.provider}:${route.model}`;
}
