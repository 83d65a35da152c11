// The per-deployment CA the sandbox trusts for TLS termination toward credential-bound hosts:
// generated once into a directory (key 0600), reused; leaf certificates signed and cached.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import forge from 'node-forge';
import { RingfenceError } from '../errors.js';

export const CA_CERT_FILE = 'ca.pem';
export const CA_KEY_FILE = 'ca-key.pem';
const CA_VALIDITY_YEARS = 10;
const LEAF_VALIDITY_DAYS = 365;

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
}

function rsaKeyPem(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f; // positive
  return b.toString('hex');
}

function newCaCert(keyPem: string, commonName: string): string {
  const key = forge.pki.privateKeyFromPem(keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = new Date(Date.now() + CA_VALIDITY_YEARS * 365 * 86_400_000);
  const subject = [
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'ringfence' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true, pathLenConstraint: 0 },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** A CA on disk plus an in-memory cache of per-host leaf certificates. */
export class CertificateAuthority {
  readonly certPath: string;
  readonly certPem: string;
  readonly #caCert: forge.pki.Certificate;
  readonly #caKey: forge.pki.rsa.PrivateKey;
  readonly #leafKeyPem = rsaKeyPem();
  readonly #leafKey: forge.pki.rsa.PrivateKey;
  readonly #contexts = new Map<string, SecureContext>();

  private constructor(certPath: string, certPem: string, keyPem: string) {
    this.certPath = certPath;
    this.certPem = certPem;
    this.#caCert = forge.pki.certificateFromPem(certPem);
    this.#caKey = forge.pki.privateKeyFromPem(keyPem);
    this.#leafKey = forge.pki.privateKeyFromPem(this.#leafKeyPem);
  }

  /**
   * Loads the CA from `dir` or creates it there (dir 0700, key 0600). A key readable by group
   * or others is refused rather than used.
   * @example const ca = await CertificateAuthority.loadOrCreate('/var/lib/ringfence/ca')
   */
  static async loadOrCreate(
    dir: string,
    commonName = 'ringfence egress CA',
  ): Promise<CertificateAuthority> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const certPath = join(dir, CA_CERT_FILE);
    const keyPath = join(dir, CA_KEY_FILE);
    try {
      const st = await stat(keyPath);
      if ((st.mode & 0o077) !== 0)
        throw new RingfenceError(
          'internal',
          `CA key ${keyPath} is readable by others; refusing it`,
        );
      const [certPem, keyPem] = await Promise.all([
        readFile(certPath, 'utf8'),
        readFile(keyPath, 'utf8'),
      ]);
      return new CertificateAuthority(certPath, certPem, keyPem);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const keyPem = rsaKeyPem();
    const certPem = newCaCert(keyPem, commonName);
    const tmp = `.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(join(dir, `key${tmp}`), keyPem, { mode: 0o600, flag: 'wx' });
    await writeFile(join(dir, `cert${tmp}`), certPem, { mode: 0o644, flag: 'wx' });
    await rename(join(dir, `cert${tmp}`), certPath);
    await rename(join(dir, `key${tmp}`), keyPath);
    return new CertificateAuthority(certPath, certPem, keyPem);
  }

  /**
   * The trust bundle for the sandbox: system roots, the `extra` CAs the proxy trusts for
   * upstreams (a private PKI), and this CA. Point `proxyEnv`'s `caCertPath` at a file with this
   * content (SSL_CERT_FILE and the like replace the tools' own stores).
   */
  trustBundlePem(extra: readonly string[] = []): string {
    const pems = [...rootCertificates, ...extra.map((pem) => pem.trim()), this.certPem.trim()];
    return `${pems.join('\n')}\n`;
  }

  /** Signs a leaf certificate for a host name or IP, plus `extraNames` (shared leaf key). */
  issue(host: string, extraNames: readonly string[] = []): IssuedCertificate {
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.setRsaPublicKey(this.#leafKey.n, this.#leafKey.e);
    cert.serialNumber = serial();
    cert.validity.notBefore = new Date(Date.now() - 86_400_000);
    cert.validity.notAfter = new Date(Date.now() + LEAF_VALIDITY_DAYS * 86_400_000);
    cert.setSubject([{ name: 'commonName', value: host.slice(0, 64) }]);
    cert.setIssuer(this.#caCert.subject.attributes);
    const altNames = [host, ...extraNames].map((n) =>
      isIP(n) ? { type: 7, ip: n } : { type: 2, value: n },
    );
    cert.setExtensions([
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
      {
        name: 'authorityKeyIdentifier',
        keyIdentifier: this.#caCert.generateSubjectKeyIdentifier().getBytes(),
      },
    ]);
    cert.sign(this.#caKey, forge.md.sha256.create());
    return { certPem: forge.pki.certificateToPem(cert), keyPem: this.#leafKeyPem };
  }

  /** A cached TLS server context for `host` (leaf + CA chain). */
  contextFor(host: string): SecureContext {
    let ctx = this.#contexts.get(host);
    if (!ctx) {
      const leaf = this.issue(host);
      ctx = createSecureContext({ cert: leaf.certPem + this.certPem, key: leaf.keyPem });
      this.#contexts.set(host, ctx);
    }
    return ctx;
  }
}
