// Test helpers: start a scripted server from an inline script and build routes pointing at it.
import type { ModelRoute } from '../../src/config/config-schema.js';
import { parseScript } from '../../src/models/scripted/script-schema.js';
import {
  ScriptedServer,
  type ScriptedRequestInfo,
} from '../../src/models/scripted/scripted-server.js';

export interface StartedServer {
  server: ScriptedServer;
  url: string;
  requests: ScriptedRequestInfo[];
  route: (model?: string) => ModelRoute;
}

export async function startScripted(raw: unknown, requireApiKey?: string): Promise<StartedServer> {
  const requests: ScriptedRequestInfo[] = [];
  const server = new ScriptedServer({
    script: parseScript(raw),
    onRequest: (i) => requests.push(i),
    ...(requireApiKey === undefined ? {} : { requireApiKey }),
  });
  const url = await server.start();
  return {
    server,
    url,
    requests,
    route: (model = 'claude-test') => ({ provider: 'anthropic', model, baseUrl: url }),
  };
}

export const hello = { turns: [{ content: [{ type: 'text', text: 'hello from the script' }] }] };
export const userMsg = {
  model: 'ignored',
  max_tokens: 64,
  messages: [{ role: 'user' as const, content: 'hi' }],
};
