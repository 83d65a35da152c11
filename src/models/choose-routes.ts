// Which model routes a run uses: the tier's routes with --provider/--model/--script applied, and
// the dev tier without an Anthropic key falling back to the scripted model (run and serve share it).
import { resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import type { ModelRoute } from './model-route.js';

/** Command-line overrides of the tier's model (all optional). */
export interface RouteOverrides {
  provider?: string;
  model?: string;
  /** Script file of the scripted provider (resolved against the cwd). */
  script?: string;
}

const PROVIDERS: readonly string[] = ['anthropic', 'bedrock', 'vertex', 'scripted'];

/**
 * The tier's routes with overrides applied; dev without a key falls back to scripted.
 * @example chooseRoutes(tier.model, tier.name, { model: 'claude-sonnet-4-5' })
 */
export function chooseRoutes(
  tierRoutes: ModelRoute | ModelRoute[],
  tierName: string,
  flags: RouteOverrides,
  env: NodeJS.ProcessEnv = process.env,
): ModelRoute[] {
  let routes = Array.isArray(tierRoutes) ? tierRoutes : [tierRoutes];
  if (flags.provider !== undefined || flags.model !== undefined) {
    const first = routes[0];
    const provider = flags.provider ?? first?.provider ?? 'scripted';
    if (!PROVIDERS.includes(provider)) {
      throw new ConfigError('invalid options', [
        { path: '--provider', message: `unknown provider "${provider}"` },
      ]);
    }
    routes = [
      {
        provider: provider as ModelRoute['provider'],
        model: flags.model ?? first?.model ?? 'scripted-demo',
      },
    ];
  }
  const noKey = !env['ANTHROPIC_API_KEY'] && !env['ANTHROPIC_AUTH_TOKEN'];
  if (tierName === 'dev' && noKey && routes.every((r) => r.provider === 'anthropic')) {
    routes = [{ provider: 'scripted', model: 'scripted-demo' }];
  }
  const script = flags.script;
  if (script !== undefined)
    routes = routes.map((r) => (r.provider === 'scripted' ? { ...r, script: resolve(script) } : r));
  return routes;
}
