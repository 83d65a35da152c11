// The gvisor driver: the docker driver's hardened container run under the runsc runtime
// (registered in dockerd with --network=none), so syscalls meet gVisor's user-space kernel.
import type { DockerDriverOptions } from '../docker/docker-driver.js';
import { DockerDriver } from '../docker/docker-driver.js';
import { EGRESS_SOCKET_IN_CONTAINER, SANDBOX_USER } from '../docker/container-spec.js';
import type { CreateSandboxOptions, Sandbox } from '../driver.js';
import { SANDBOX_PROXY_PORT } from '../provision.js';
import {
  handSocketTo,
  RELAY_IN_CONTAINER,
  RELAY_SOURCE,
  startInsideRelay,
} from './inside-relay.js';

export const GVISOR_RUNTIME = 'runsc';

export class GvisorDriver extends DockerDriver {
  /**
   * runsc's netstack lives in its sentry (and runs with --network=none): the host cannot join
   * the sandbox's loopback, so the relay runs inside and reaches the proxy socket bound in
   * (runsc --host-uds=open lets the sandbox connect to that host socket, and only connect).
   */
  readonly egressRelay = 'inside' as const;

  constructor(options: Omit<DockerDriverOptions, 'runtime'> & { runtime?: string } = {}) {
    super({ ...options, runtime: options.runtime ?? GVISOR_RUNTIME }, 'gvisor');
  }

  /** With `egressSocket`, the sandbox's 127.0.0.1:3128 forwards to it before this returns. */
  override async create(options: CreateSandboxOptions): Promise<Sandbox> {
    const socket = options.egressSocket;
    if (!socket) return super.create(options);
    const [uid = 1000, gid = 1000] = SANDBOX_USER.split(':').map(Number);
    await handSocketTo(socket, uid, gid);
    const sandbox = await super.create({
      ...options,
      extraReadOnly: [
        ...(options.extraReadOnly ?? []),
        { host: RELAY_SOURCE, sandbox: RELAY_IN_CONTAINER },
      ],
    });
    try {
      await startInsideRelay(sandbox, SANDBOX_PROXY_PORT, EGRESS_SOCKET_IN_CONTAINER);
    } catch (err) {
      await sandbox.destroy().catch(() => undefined);
      throw err;
    }
    return sandbox;
  }
}
