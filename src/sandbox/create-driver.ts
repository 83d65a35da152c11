// Picks the SandboxDriver for a tier by name; heavier drivers are loaded only when chosen.
import type { DriverName, SandboxDriver } from './driver.js';

export async function createDriver(name: DriverName): Promise<SandboxDriver> {
  switch (name) {
    case 'bubblewrap': {
      const { BubblewrapDriver } = await import('./bubblewrap/bubblewrap-driver.js');
      return new BubblewrapDriver();
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
