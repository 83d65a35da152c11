// What sessions of one config tier share inside a service process: the resolved tier (policy,
// limits), its model gateway (same route choice as `ringfence run`) and its sandbox driver.
import type { ResolvedTier } from '../config/load-config.js';
import type { ModelRoute } from '../config/config-schema.js';
import { RingfenceError } from '../errors.js';
import { chooseRoutes } from '../models/choose-routes.js';
import { RoutingGateway } from '../models/gateway/routing-gateway.js';
import type { ModelGateway } from '../models/model-gateway.js';
import { createDriver } from '../sandbox/create-driver.js';
import type { SandboxDriver } from '../sandbox/driver.js';

export interface TierRuntime {
  tier: ResolvedTier;
  routes: ModelRoute[];
  gateway: ModelGateway;
  driver: SandboxDriver;
}

export interface TierRuntimeSource {
  /** The runtime of tier `name` (built once, then shared); not_found-style error when unknown. */
  get(name: string): Promise<TierRuntime>;
}

export class TierRuntimes implements TierRuntimeSource {
  readonly #resolve: (name: string) => ResolvedTier;
  readonly #built = new Map<string, Promise<TierRuntime>>();
  #closing: Promise<void> | undefined;

  /** `resolve(name)` returns the tier or throws (ConfigError) when it is not configured. */
  constructor(resolve: (name: string) => ResolvedTier) {
    this.#resolve = resolve;
  }

  get(name: string): Promise<TierRuntime> {
    if (this.#closing !== undefined)
      return Promise.reject(new RingfenceError('conflict', 'service is shutting down'));
    let rt = this.#built.get(name);
    if (rt === undefined) {
      rt = this.#build(name);
      this.#built.set(name, rt);
      rt.catch(() => this.#built.delete(name));
    }
    return rt;
  }

  async #build(name: string): Promise<TierRuntime> {
    const tier = this.#resolve(name);
    const routes = chooseRoutes(tier.model, tier.name, {});
    const driver = await createDriver(tier.sandbox.driver);
    const gateway = new RoutingGateway({ routes, config: tier.gateway });
    return { tier, routes, gateway, driver };
  }

  /** Closes every gateway and driver; idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const all = await Promise.allSettled([...this.#built.values()]);
      const steps: Promise<unknown>[] = [];
      for (const r of all) {
        if (r.status === 'fulfilled') steps.push(r.value.gateway.close(), r.value.driver.close());
      }
      await Promise.allSettled(steps);
    })();
    return this.#closing;
  }
}
