// The `vertex` provider: @anthropic-ai/vertex-sdk with a region, a project and a Google auth
// client (anything with `getRequestHeaders()`); model ids like `claude-sonnet-4-5@20250929`.
import { AnthropicVertex } from '@anthropic-ai/vertex-sdk';
import type { ModelRoute } from '../../config/config-schema.js';
import { SdkProvider } from './sdk-provider.js';

/** The part of google-auth-library's AuthClient the Vertex SDK calls. */
export interface VertexAuthClient {
  getRequestHeaders(): Promise<Headers>;
  projectId?: string | null;
}

export interface VertexCredentials {
  /** Absent: Application Default Credentials through google-auth-library. */
  authClient?: VertexAuthClient | undefined;
}

export function createVertexClient(
  route: ModelRoute,
  creds: VertexCredentials = {},
): AnthropicVertex {
  type Opts = NonNullable<ConstructorParameters<typeof AnthropicVertex>[0]>;
  return new AnthropicVertex({
    ...(route.region ? { region: route.region } : {}),
    ...(route.project ? { projectId: route.project } : {}),
    ...(route.baseUrl ? { baseURL: route.baseUrl } : {}),
    ...(creds.authClient
      ? { authClient: creds.authClient as unknown as NonNullable<Opts['authClient']> }
      : {}),
    maxRetries: 0,
  });
}

export function createVertexProvider(
  route: ModelRoute,
  creds: VertexCredentials = {},
): SdkProvider {
  let client: AnthropicVertex | undefined;
  return new SdkProvider(route, async () => {
    client ??= createVertexClient(route, creds);
    return client;
  });
}
