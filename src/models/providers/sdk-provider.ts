// A ModelProvider over any official client (Anthropic, AnthropicBedrock, AnthropicVertex all
// extend BaseAnthropic with the same `messages` resource). SDK retries are off: the gateway retries.
import type { ModelRoute } from '../../config/config-schema.js';
import { ModelError } from '../model-errors.js';
import {
  routeKey,
  type Message,
  type MessageParams,
  type ModelProvider,
  type ProviderCallOptions,
} from './model-provider.js';

/** The part of the official clients this provider uses. */
export interface MessagesClient {
  messages: {
    create(
      body: MessageParams & { stream?: false },
      options?: { signal?: AbortSignal | undefined; timeout?: number; maxRetries?: number },
    ): PromiseLike<Message>;
    stream(
      body: MessageParams,
      options?: { signal?: AbortSignal | undefined; timeout?: number; maxRetries?: number },
    ): {
      on(
        event: 'streamEvent',
        listener: (e: Parameters<NonNullable<ProviderCallOptions['onEvent']>>[0]) => void,
      ): unknown;
      finalMessage(): Promise<Message>;
    };
  };
}

export class SdkProvider implements ModelProvider {
  readonly key: string;
  readonly route: Readonly<ModelRoute>;
  readonly #client: () => Promise<MessagesClient>;
  readonly #onClose: () => Promise<void>;
  #closing: Promise<void> | undefined;

  /** `client` is called lazily on first use (so a scripted server can start first). */
  constructor(
    route: ModelRoute,
    client: () => Promise<MessagesClient>,
    onClose: () => Promise<void> = async () => {},
  ) {
    this.route = Object.freeze({ ...route });
    this.key = routeKey(route);
    this.#client = client;
    this.#onClose = onClose;
  }

  async init(): Promise<void> {
    await this.#client();
  }

  async create(params: MessageParams, opts: ProviderCallOptions): Promise<Message> {
    const client = await this.#client();
    return client.messages.create(
      { ...params, model: this.route.model, stream: false },
      { signal: opts.signal, timeout: opts.timeoutMs, maxRetries: 0 },
    );
  }

  async stream(params: MessageParams, opts: ProviderCallOptions): Promise<Message> {
    const client = await this.#client();
    // The SDK timeout ends at the response headers; an idle timer catches a stream that stalls.
    const ctl = new AbortController();
    const forwardAbort = (): void => ctl.abort(opts.signal?.reason);
    opts.signal?.addEventListener('abort', forwardAbort, { once: true });
    let idleTimedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        idleTimedOut = true;
        ctl.abort();
      }, opts.timeoutMs);
    };
    arm();
    try {
      const s = client.messages.stream(
        { ...params, model: this.route.model },
        { signal: ctl.signal, timeout: opts.timeoutMs, maxRetries: 0 },
      );
      const onEvent = opts.onEvent;
      s.on('streamEvent', (e) => {
        arm();
        onEvent?.(e);
      });
      return await s.finalMessage();
    } catch (err) {
      if (idleTimedOut && !opts.signal?.aborted) {
        throw new ModelError('timeout', `${this.key}: no stream event for ${opts.timeoutMs} ms`, {
          route: this.key,
          cause: err,
        });
      }
      throw err;
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', forwardAbort);
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#onClose();
    return this.#closing;
  }
}
