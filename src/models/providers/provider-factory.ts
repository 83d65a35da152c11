// Chooses the provider implementation for a route; credentials come from the caller (a secret
// provider), never from the sandbox.
import type { ModelRoute } from '../../config/config-schema.js';
import { createAnthropicProvider, type AnthropicCredentials } from './anthropic-provider.js';
import { createBedrockProvider, type BedrockCredentials } from './bedrock-provider.js';
import type { ModelProvider } from './model-provider.js';
import { createScriptedProvider } from './scripted-provider.js';
import { createVertexProvider, type VertexCredentials } from './vertex-provider.js';

export interface ProviderCredentials {
  anthropic?: AnthropicCredentials;
  bedrock?: BedrockCredentials;
  vertex?: VertexCredentials;
}

export function createProvider(route: ModelRoute, creds: ProviderCredentials = {}): ModelProvider {
  switch (route.provider) {
    case 'anthropic':
      return createAnthropicProvider(route, creds.anthropic);
    case 'bedrock':
      return createBedrockProvider(route, creds.bedrock);
    case 'vertex':
      return createVertexProvider(route, creds.vertex);
    case 'scripted':
      return createScriptedProvider(route);
  }
}
