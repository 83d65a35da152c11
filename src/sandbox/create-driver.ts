// Picks the SandboxDriver for a tier by name; heavier drivers are loaded only when chosen.
import { SandboxError } from '../errors.js';
import type { DriverName, SandboxDriver } from './driver.js';

export async function createDriver(name: DriverName): Promise<SandboxDriver> {
  switch (name) {
    case 'bubblewrap': {
      const { BubblewrapDriver } = await import('./bubblewrap/bubblewrap-driver.js');
      return new BubblewrapDriver();
    }
    case 'docker':
    case 'gvisor':
      throw new SandboxError(
        'sandbox_unavailable',
        `the ${name} driver is not built yet; use bubblewrap`,
      );
  }
}
