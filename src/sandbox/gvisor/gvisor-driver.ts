// The gvisor driver: the docker driver's hardened container run under the runsc runtime
// (registered in dockerd with --network=none), so syscalls meet gVisor's user-space kernel.
import type { DockerDriverOptions } from '../docker/docker-driver.js';
import { DockerDriver } from '../docker/docker-driver.js';

export const GVISOR_RUNTIME = 'runsc';

export class GvisorDriver extends DockerDriver {
  constructor(options: Omit<DockerDriverOptions, 'runtime'> & { runtime?: string } = {}) {
    super({ ...options, runtime: options.runtime ?? GVISOR_RUNTIME }, 'gvisor');
  }
}
