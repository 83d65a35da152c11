// The Ed25519 key pair that signs audit checkpoints: generated once into the data dir,
// private key 0600 (refused if group/other can read it), public key exportable as PEM.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify as verifySignature,
  type KeyObject,
} from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditError } from '../errors.js';
import { sha256Hex } from './canonical-json.js';

export const AUDIT_PRIVATE_KEY_FILE = 'audit-ed25519.key';
export const AUDIT_PUBLIC_KEY_FILE = 'audit-ed25519.pub';

/** Signs checkpoints; `keyId` = first 16 hex of sha256(public key DER). */
export interface AuditSigner {
  readonly keyId: string;
  sign(payload: Buffer): string;
}

/** A key id for any Ed25519 public key. */
export function keyIdOf(publicKey: KeyObject): string {
  return sha256Hex(publicKey.export({ type: 'spki', format: 'der' })).slice(0, 16);
}

/** Builds a signer from an Ed25519 private key (tests use throwaway keys). */
export function createSigner(privateKey: KeyObject): AuditSigner {
  const keyId = keyIdOf(createPublicKey(privateKey));
  return {
    keyId,
    sign: (payload) => sign(null, payload, privateKey).toString('base64'),
  };
}

/** Accepts a KeyObject or a PEM string (SPKI public key). */
export function toPublicKey(key: KeyObject | string): KeyObject {
  const obj = typeof key === 'string' ? createPublicKey(key) : key;
  if (obj.asymmetricKeyType !== 'ed25519') throw new AuditError('audit public key must be Ed25519');
  return obj.type === 'private' ? createPublicKey(obj) : obj;
}

/** True when `signature` (base64) is a valid Ed25519 signature of `payload`. */
export function verifyCheckpointSignature(
  publicKey: KeyObject,
  payload: Buffer,
  signature: string,
): boolean {
  try {
    return verifySignature(null, payload, publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

export interface AuditKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
  /** SPKI PEM of the public key, for `ringfence audit public-key` and out-of-band copies. */
  publicKeyPem: string;
}

/**
 * Loads the audit key pair from `dataDir`, generating it on first use (private key 0600).
 * @throws AuditError when the private key is readable by group or others, or unreadable.
 */
export function loadOrCreateAuditKeys(dataDir: string): AuditKeyPair {
  const privatePath = join(dataDir, AUDIT_PRIVATE_KEY_FILE);
  const publicPath = join(dataDir, AUDIT_PUBLIC_KEY_FILE);
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    let pem: string;
    try {
      pem = readFileSync(privatePath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const pair = generateKeyPairSync('ed25519');
      pem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      try {
        // `wx`: never overwrite a key another process created a moment ago.
        writeFileSync(privatePath, pem, { mode: 0o600, flag: 'wx' });
      } catch (raceErr) {
        if ((raceErr as NodeJS.ErrnoException).code !== 'EEXIST') throw raceErr;
        pem = readFileSync(privatePath, 'utf8');
      }
    }
    const mode = statSync(privatePath).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new AuditError(
        `audit private key ${privatePath} has mode ${mode.toString(8)}; run chmod 600 on it`,
      );
    }
    const privateKey = createPrivateKey(pem);
    const publicKey = createPublicKey(privateKey);
    const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    writeFileSync(publicPath, publicKeyPem, { mode: 0o644 });
    return { privateKey, publicKey, keyId: keyIdOf(publicKey), publicKeyPem };
  } catch (cause) {
    if (cause instanceof AuditError) throw cause;
    throw new AuditError(`cannot load audit signing key from ${dataDir}`, { cause });
  }
}

/** Reads the exported public key of a data dir (no private key needed). */
export function readAuditPublicKey(dataDir: string): KeyObject {
  const path = join(dataDir, AUDIT_PUBLIC_KEY_FILE);
  try {
    return toPublicKey(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new AuditError(`cannot read audit public key ${path}`, { cause });
  }
}
