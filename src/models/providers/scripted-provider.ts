// The `scripted` provider: the anthropic provider pointed at a scripted server the provider
// starts itself on loopback (real HTTP, real SDK code path). Script: route.script or the demo.
import type Anthropic from '@anthropic-ai/sdk';
import { fileURLToPath } from 'node:url';
import type { ModelRoute } from '../../config/config-schema.js';
import { loadScript } from '../scripted/script-schema.js';
import { ScriptedServer } from '../scripted/scripted-server.js';
import { createAnthropicClient } from './anthropic-provider.js';
import { SdkProvider } from './sdk-provider.js';

/** The shipped demo script (examples/scripts/demo.yaml). */
export const DEMO_SCRIPT_PATH = fileURLToPath(
  new URL('../../../examples/scripts/demo.yaml', import.meta.url),
);

export function createScriptedProvider(route: ModelRoute): SdkProvider {
  let server: ScriptedServer | undefined;
  let ready: Promise<Anthropic> | undefined;
  const start = async (): Promise<Anthropic> => {
    server = new ScriptedServer({ script: loadScript(route.script ?? DEMO_SCRIPT_PATH) });
    const url = await server.start();
    // The scripted server needs no key; a fixed placeholder keeps the SDK from looking for one.
    return createAnthropicClient({ baseUrl: url }, { apiKey: 'scripted-no-key' }, {});
  };
  return new SdkProvider(
    route,
    async () => {
      ready ??= start();
      return await ready;
    },
    async () => {
      await server?.close();
    },
  );
}
