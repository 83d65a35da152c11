// Builds the egress wiring one command or session needs from its policy: a proxy, resolved
// secrets and the deployment CA (only when a secret is bound). Nothing when no host is allowed.
import { join } from 'node:path';
import type { Policy } from '../policy/policy-schema.js';
import { resolveSecrets } from '../secrets/resolve-secrets.js';
import { CertificateAuthority } from './ca.js';
import { EgressProxy } from './egress-proxy.js';
import type { DecisionListener } from './events.js';
import type { CredentialBinding } from './credentials.js';

export interface SessionEgress {
  wiring: { proxy: EgressProxy; secrets: CredentialBinding[]; ca?: CertificateAuthority };
  close(): Promise<void>;
}

/** Returns undefined when the policy allows no host and binds no secret: no proxy is needed. */
export async function openSessionEgress(
  policy: Policy,
  dataDir: string,
  onDecision?: DecisionListener,
): Promise<SessionEgress | undefined> {
  const bound = Object.keys(policy.secrets).length > 0;
  if (policy.network.allow.length === 0 && !bound) return undefined;
  const secrets = bound ? await resolveSecrets(policy.secrets) : [];
  const ca = bound
    ? await CertificateAuthority.loadOrCreate(join(dataDir, 'egress-ca'))
    : undefined;
  const proxy = new EgressProxy(ca ? { ca } : {});
  const unsubscribe = onDecision ? proxy.subscribe(onDecision) : undefined;
  return {
    wiring: {
      proxy,
      secrets: secrets.map((s) => ({ ...s, hosts: [...s.hosts] })),
      ...(ca ? { ca } : {}),
    },
    close: async () => {
      unsubscribe?.();
      await proxy.close();
    },
  };
}
