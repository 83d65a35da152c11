// The TenantKeyStore contract: tenants and their API keys (random, shown once, stored as sha256).
// Backends: sqlite/ (embedded, shares ringfence.db); a PostgreSQL one comes with the fleet issue.
import { createHash, randomBytes } from 'node:crypto';

export type ApiRole = 'admin' | 'submit' | 'read';
export const API_ROLES: readonly ApiRole[] = ['admin', 'submit', 'read'];

/** What each role may do: admin ⊇ submit ⊇ read. */
const RANK: Readonly<Record<ApiRole, number>> = { read: 0, submit: 1, admin: 2 };

/** true when `have` grants at least what `need` does. */
export function roleAllows(have: ApiRole, need: ApiRole): boolean {
  return RANK[have] >= RANK[need];
}

export interface Tenant {
  id: string;
  createdAt: number;
}

export interface ApiKeyInfo {
  /** Public key id (also the key's visible prefix). */
  id: string;
  tenantId: string;
  role: ApiRole;
  createdAt: number;
  revokedAt: number | undefined;
}

/** Who made a request: resolved from the bearer key. */
export interface Principal {
  tenantId: string;
  role: ApiRole;
  keyId: string;
}

export interface CreatedKey {
  info: ApiKeyInfo;
  /** The secret key: returned once, never stored. */
  key: string;
}

export interface TenantKeyStore {
  /** Creates the tenant if absent; returns it either way. */
  ensureTenant(tenantId: string): Promise<Tenant>;
  listTenants(): Promise<Tenant[]>;
  createKey(tenantId: string, role: ApiRole): Promise<CreatedKey>;
  revokeKey(keyId: string): Promise<boolean>;
  listKeys(tenantId: string): Promise<ApiKeyInfo[]>;
  /** The principal of a presented key; undefined when unknown or revoked. */
  authenticate(key: string): Promise<Principal | undefined>;
  close(): Promise<void>;
}

/** Key format: `rf_<id>_<secret>`; id is 12 hex chars, secret 32 random bytes base64url. */
export function generateApiKey(): { id: string; key: string } {
  const id = randomBytes(6).toString('hex');
  return { id, key: `rf_${id}_${randomBytes(32).toString('base64url')}` };
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** The id part of a well-formed key; undefined otherwise. */
export function keyIdOf(key: string): string | undefined {
  const m = /^rf_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$/.exec(key);
  return m?.[1];
}
