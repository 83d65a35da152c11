// Credential bindings resolved outside the sandbox: which header the proxy sets toward which
// hosts. The sandbox only ever holds a placeholder; values live here and in the redactor.
import { z } from 'zod';
import { parseHostPattern, type HostPattern } from '../policy/host.js';
import { PolicyError } from '../errors.js';
import { canonicalIp } from './ip-address.js';
import type { Target } from './target.js';

/** A secret already resolved by the caller (src/secrets), bound to hosts. */
export const credentialBindingSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Z][A-Z0-9_]*$/)
      .describe('Secret name, UPPER_SNAKE.'),
    value: z.string().min(8).describe('The secret value; never logged.'),
    hosts: z.array(z.string()).min(1).describe('`host[:port]` patterns it is injected toward.'),
    header: z
      .string()
      .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/)
      .default('Authorization')
      .describe('Header the proxy sets, replacing any sent by the sandbox.'),
    format: z.string().includes('{value}').default('Bearer {value}').describe('Header template.'),
  })
  .strict();

export type CredentialBinding = z.input<typeof credentialBindingSchema>;

export interface CompiledBinding {
  readonly name: string;
  readonly value: string;
  readonly header: string;
  readonly headerValue: string;
  readonly patterns: readonly HostPattern[];
}

/** Validates bindings (fail closed: throws `PolicyError` without echoing values). */
export function compileBindings(bindings: readonly CredentialBinding[]): CompiledBinding[] {
  return bindings.map((b, i) => {
    const parsed = credentialBindingSchema.safeParse(b);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new PolicyError(
        `invalid credential binding #${i}: ${issue?.path.join('.')}: ${issue?.message}`,
      );
    }
    const v = parsed.data;
    if (/[\r\n\0]/.test(v.value) || /[\r\n\0]/.test(v.format))
      throw new PolicyError(`invalid credential binding ${v.name}: control characters`);
    const patterns = v.hosts.map((h) => {
      const p = parseHostPattern(h);
      if (typeof p === 'string') throw new PolicyError(`credential binding ${v.name}: ${p}`);
      return p;
    });
    return Object.freeze({
      name: v.name,
      value: v.value,
      header: v.header.toLowerCase(),
      headerValue: v.format.split('{value}').join(v.value),
      patterns,
    });
  });
}

function matches(p: HostPattern, target: Target): boolean {
  if (p.port !== undefined && p.port !== target.port) return false;
  if (target.isIp) return !p.wildcard && canonicalIp(p.host) === canonicalIp(target.host);
  return p.wildcard ? target.host.endsWith(`.${p.host}`) : target.host === p.host;
}

/** The bindings whose hosts include this exact target (a pattern without port: any port). */
export function bindingsFor(
  bindings: readonly CompiledBinding[],
  target: Target,
): CompiledBinding[] {
  return bindings.filter((b) => b.patterns.some((p) => matches(p, target)));
}
