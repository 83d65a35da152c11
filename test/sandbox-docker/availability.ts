// Decides whether the docker/gvisor suites can run here, with the reason printed when not.
import { existsSync } from 'node:fs';
import { EngineClient, DEFAULT_DOCKER_SOCKET } from '../../src/sandbox/docker/engine-client.js';
import { defaultImageRef } from '../../src/sandbox/image/image-spec.js';

export async function dockerUnavailable(runtime?: string): Promise<string | undefined> {
  if (process.env.RINGFENCE_SKIP_DOCKER === '1') return 'RINGFENCE_SKIP_DOCKER=1';
  if (!existsSync(DEFAULT_DOCKER_SOCKET))
    return `dockerd is not running (no ${DEFAULT_DOCKER_SOCKET}; run scripts/setup-docker.sh)`;
  const engine = new EngineClient();
  try {
    const info = await engine.ok<{ Runtimes?: Record<string, unknown> }>('GET', '/info');
    if (runtime && !(runtime in (info.Runtimes ?? {})))
      return `runtime ${runtime} not registered in dockerd (run scripts/setup-docker.sh)`;
    const image = await engine.call('GET', `/images/${defaultImageRef()}/json`);
    if (image.status !== 200)
      return `image ${defaultImageRef()} not built (run scripts/setup-docker.sh)`;
  } catch (err) {
    return `docker engine not answering: ${(err as Error).message}`;
  }
  return undefined;
}

export function selected(driver: string): boolean {
  return !process.env.DRIVERS || process.env.DRIVERS.split(',').includes(driver);
}
