import { describe, expect, it } from 'vitest';
import {
  hostMatches,
  normaliseHost,
  parseHostPattern,
  type HostPattern,
} from '../src/policy/host.js';

function pattern(entry: string): HostPattern {
  const p = parseHostPattern(entry);
  if (typeof p === 'string') throw new Error(p);
  return p;
}

describe('host normalisation', () => {
  it('lowercases, drops the trailing dot and converts IDNA to punycode', () => {
    expect(normaliseHost('API.Example.COM.')).toBe('api.example.com');
    expect(normaliseHost('bücher.example')).toBe('xn--bcher-kva.example');
  });
  it('rejects control bytes, odd dots, userinfo and fragments', () => {
    for (const bad of [
      'a\x00b.com',
      'evil.com\u3002allowed.com',
      'a@b.com',
      'evil.com#.allowed.com',
      'a b.com',
      `${'a'.repeat(64)}.com`,
    ]) {
      expect(normaliseHost(bad), bad).toBeUndefined();
    }
  });
});

describe('host patterns', () => {
  it('rejects "*" and single-label wildcards', () => {
    expect(parseHostPattern('*')).toMatch(/every host/);
    expect(parseHostPattern('*.com')).toMatch(/too broad/);
    expect(parseHostPattern('a*.example.com')).toMatch(/leading/);
  });
  it('matches whole hosts and ports only', () => {
    const p = pattern('api.example.com');
    expect(hostMatches(p, 'api.example.com', 443, 443)).toBe(true);
    expect(hostMatches(p, 'api.example.com', 8443, 443)).toBe(false);
    expect(hostMatches(p, 'api.example.com.evil.com', 443, 443)).toBe(false);
    expect(hostMatches(p, 'xapi.example.com', 443, 443)).toBe(false);
  });
  it('*.x matches subdomains but not x itself', () => {
    const p = pattern('*.example.com:8443');
    expect(hostMatches(p, 'a.b.example.com', 8443, 443)).toBe(true);
    expect(hostMatches(p, 'example.com', 8443, 443)).toBe(false);
    expect(hostMatches(p, 'a.example.com', 443, 443)).toBe(false);
  });
});

describe('alternative IPv4 spellings', () => {
  it('accepts only the canonical dotted quad', () => {
    expect(normaliseHost('127.0.0.1')).toBe('127.0.0.1');
    for (const alt of ['2130706433', '0x7f000001', '0177.0.0.1', '127.1', '0x7f.1', '127.0.0.01']) {
      expect(normaliseHost(alt), alt).toBeUndefined();
    }
  });
});
