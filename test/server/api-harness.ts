// Builds a real API (SQLite stores in a temp dir, no workers) for app.inject() tests, with
// keys of each role for two tenants.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../../src/server/api-context.js';
import { buildApiServer, type ApiServerOptions } from '../../src/server/api-server.js';
import {
  DEFAULT_RATE_LIMITS,
  TenantRateLimiter,
  type RateLimitConfig,
} from '../../src/server/rate-limits.js';
import { ServiceMetrics } from '../../src/server/service-metrics.js';
import { SessionControl } from '../../src/server/session-control.js';
import { openServiceStores, type ServiceStores } from '../../src/service/service-stores.js';

export interface Harness {
  app: FastifyInstance;
  ctx: ApiContext;
  stores: ServiceStores;
  keys: Record<'aAdmin' | 'aSubmit' | 'aRead' | 'bSubmit', string>;
  auth(key: string): { authorization: string };
  close(): Promise<void>;
}

export async function makeHarness(
  options: {
    limits?: Partial<RateLimitConfig>;
    api?: ApiServerOptions;
    ctx?: Partial<ApiContext>;
  } = {},
): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'rf-api-'));
  const stores = openServiceStores({ dataDir });
  const ctx: ApiContext = {
    store: stores.store,
    queue: stores.queue,
    keys: stores.keys,
    uploads: stores.uploads,
    metrics: new ServiceMetrics(),
    control: new SessionControl(),
    limiter: new TenantRateLimiter({ ...DEFAULT_RATE_LIMITS, ...options.limits }),
    defaultTier: 'dev',
    tiers: ['dev', 'staging', 'prod'],
    sseHeartbeatMs: 50,
    ssePollMs: 50,
    readiness: () =>
      Promise.resolve({ ok: stores.writable(), checks: { store: { ok: stores.writable() } } }),
    ...options.ctx,
  };
  const app = buildApiServer(ctx, options.api);
  const keys = {
    aAdmin: (await stores.keys.createKey('tenant-a', 'admin')).key,
    aSubmit: (await stores.keys.createKey('tenant-a', 'submit')).key,
    aRead: (await stores.keys.createKey('tenant-a', 'read')).key,
    bSubmit: (await stores.keys.createKey('tenant-b', 'submit')).key,
  };
  return {
    app,
    ctx,
    stores,
    keys,
    auth: (key) => ({ authorization: `Bearer ${key}` }),
    close: async () => {
      await app.close();
      await stores.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
