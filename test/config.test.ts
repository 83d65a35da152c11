import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseConfig, resolveTier } from '../src/config/load-config.js';
import { ConfigError } from '../src/errors.js';

describe('config', () => {
  it('resolves each tier of the shipped example with its named policy', () => {
    const cfg = parseConfig(readFileSync('examples/ringfence.yaml', 'utf8'));
    expect(resolveTier(cfg, 'dev').model).toMatchObject({ provider: 'scripted' });
    expect(resolveTier(cfg, 'staging').policy.tools.mode).toBe('acceptEdits');
    const prod = resolveTier(cfg, 'prod');
    expect(prod.features.monitoring).toBe(true);
    expect(prod.policy.network.allow).toEqual(['registry.npmjs.org']);
  });

  it('accepts JSON as well as YAML', () => {
    const cfg = parseConfig(
      JSON.stringify({ tiers: { dev: { model: { provider: 'scripted', model: 'm' } } } }),
    );
    expect(resolveTier(cfg, 'dev').sandbox.driver).toBe('bubblewrap');
  });

  it('reports every problem as path: message', () => {
    const text = `tiers:
  dev:
    model: { provider: scripted, model: m }
    policy: { network: { allow: ["*", "*.com", "a.example:0"] }, limits: { memoryMb: 1 } }
  prod:
    model: { provider: scripted, model: m }
    policy: nope`;
    let error: unknown;
    try {
      parseConfig(text);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const paths = (error as ConfigError).issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'tiers.dev.policy.network.allow.0',
        'tiers.dev.policy.network.allow.1',
        'tiers.dev.policy.network.allow.2',
        'tiers.dev.policy.limits.memoryMb',
        'tiers.prod.policy',
      ]),
    );
  });

  it('refuses an unknown or unconfigured tier', () => {
    const cfg = parseConfig('tiers: { dev: { model: { provider: scripted, model: m } } }');
    expect(() => resolveTier(cfg, 'qa')).toThrow(ConfigError);
    expect(() => resolveTier(cfg, 'prod')).toThrow(/tier not configured/);
  });
});
