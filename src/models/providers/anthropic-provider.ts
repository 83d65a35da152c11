// The `anthropic` provider: the official @anthropic-ai/sdk client. Base URL: route.baseUrl, else
// ANTHROPIC_BASE_URL, else the SDK default; key: explicit credentials, else ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN.
import Anthropic from '@anthropic-ai/sdk';
import type { ModelRoute } from '../../config/config-schema.js';
import { SdkProvider } from './sdk-provider.js';

export interface AnthropicCredentials {
  /** Sent as x-api-key. Absent: ANTHROPIC_API_KEY. */
  apiKey?: string | undefined;
  /** Sent as Authorization: Bearer. Absent: ANTHROPIC_AUTH_TOKEN. */
  authToken?: string | undefined;
}

/** Builds the SDK client with SDK retries disabled (the gateway retries). */
export function createAnthropicClient(
  route: Pick<ModelRoute, 'baseUrl'>,
  creds: AnthropicCredentials = {},
  env: NodeJS.ProcessEnv = process.env,
): Anthropic {
  const baseURL = route.baseUrl ?? env.ANTHROPIC_BASE_URL;
  const apiKey = creds.apiKey ?? env.ANTHROPIC_API_KEY;
  const authToken = creds.authToken ?? env.ANTHROPIC_AUTH_TOKEN;
  return new Anthropic({
    ...(baseURL ? { baseURL } : {}),
    ...(apiKey ? { apiKey } : {}),
    ...(authToken && !apiKey ? { authToken } : {}),
    maxRetries: 0,
  });
}

export function createAnthropicProvider(
  route: ModelRoute,
  creds: AnthropicCredentials = {},
): SdkProvider {
  let client: Anthropic | undefined;
  return new SdkProvider(route, async () => {
    client ??= createAnthropicClient(route, creds);
    return client;
  });
}
