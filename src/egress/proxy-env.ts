// The environment a sandbox gets so ordinary tools use its egress proxy unchanged.
// NO_PROXY lists loopback only: inside the sandbox loopback is the sandbox's own.

export interface ProxyEnvOptions {
  /** Loopback port of the in-sandbox relay. */
  port: number;
  /** Path (as seen inside the sandbox) of the CA certificate for terminated TLS. */
  caCertPath?: string;
}

/**
 * @example proxyEnv({ port: 3128 }).HTTPS_PROXY === 'http://127.0.0.1:3128'
 */
export function proxyEnv(options: ProxyEnvOptions): Record<string, string> {
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535)
    throw new RangeError(`invalid proxy port ${options.port}`);
  const url = `http://127.0.0.1:${options.port}`;
  const noProxy = 'localhost,127.0.0.1,::1';
  const env: Record<string, string> = {
    HTTP_PROXY: url,
    HTTPS_PROXY: url,
    ALL_PROXY: url,
    http_proxy: url,
    https_proxy: url,
    all_proxy: url,
    NO_PROXY: noProxy,
    no_proxy: noProxy,
    NODE_USE_ENV_PROXY: '1',
  };
  if (options.caCertPath !== undefined) {
    for (const name of [
      'SSL_CERT_FILE',
      'NODE_EXTRA_CA_CERTS',
      'REQUESTS_CA_BUNDLE',
      'GIT_SSL_CAINFO',
      'CURL_CA_BUNDLE',
    ])
      env[name] = options.caCertPath;
  }
  return env;
}
