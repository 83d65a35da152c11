// Picks the SandboxDriver for a tier by name; heavier drivers are loaded only when chosen.
import type { DriverName, SandboxDriver } from './driver.js';

export interface CreateDriverOptions {
  /**
   * Sandboxes this process will create: 'one' for one-shot commands, which then skip keeping
   * pre-spawned sandbox processes ready (nothing would use them). Default 'many'.
   */
  expect?: 'one' | 'many';
}

export async function createDriver(
  name: DriverName,
  options: CreateDriverOptions = {},
): Promise<SandboxDriver> {
  switch (name) {
    case 'bubblewrap': {
      const { BubblewrapDriver } = await import('./bubblewrap/bubblewrap-driver.js');
      return new BubblewrapDriver(options.expect === 'one' ? { prespawn: 0 } : {});
    }
    case 'docker': {
      const { DockerDriver } = await import('./docker/docker-driver.js');
      return new DockerDriver();
    }
    case 'gvisor': {
      const { GvisorDriver } = await import('./gvisor/gvisor-driver.js');
      return new GvisorDriver();
    }
  }
}
