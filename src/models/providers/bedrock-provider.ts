// The `bedrock` provider: @anthropic-ai/bedrock-sdk with IAM credentials (SigV4) or a bearer token,
// a region and Bedrock model ids such as `us.anthropic.claude-sonnet-4-5-20250929-v1:0`.
import { AnthropicBedrock } from '@anthropic-ai/bedrock-sdk';
import type { ModelRoute } from '../../config/config-schema.js';
import { SdkProvider } from './sdk-provider.js';

export interface BedrockCredentials {
  awsAccessKey?: string | undefined;
  awsSecretKey?: string | undefined;
  awsSessionToken?: string | undefined;
  /** Bedrock API key sent as a bearer token. Absent: AWS_BEARER_TOKEN_BEDROCK, else SigV4. */
  bearerToken?: string | undefined;
}

export function createBedrockClient(
  route: ModelRoute,
  creds: BedrockCredentials = {},
): AnthropicBedrock {
  const common = {
    ...(route.region ? { awsRegion: route.region } : {}),
    ...(route.baseUrl ? { baseURL: route.baseUrl } : {}),
    maxRetries: 0,
  };
  if (creds.bearerToken) return new AnthropicBedrock({ ...common, apiKey: creds.bearerToken });
  if (creds.awsAccessKey && creds.awsSecretKey) {
    return new AnthropicBedrock({
      ...common,
      apiKey: null,
      awsAccessKey: creds.awsAccessKey,
      awsSecretKey: creds.awsSecretKey,
      awsSessionToken: creds.awsSessionToken ?? null,
    });
  }
  return new AnthropicBedrock(common);
}

export function createBedrockProvider(
  route: ModelRoute,
  creds: BedrockCredentials = {},
): SdkProvider {
  let client: AnthropicBedrock | undefined;
  return new SdkProvider(route, async () => {
    client ??= createBedrockClient(route, creds);
    return client;
  });
}
