// The policy's default limits, without zod: the schema's defaults and the sandbox drivers' warm
// sandboxes read them from here, so loading a driver does not load the schema.
export const LIMIT_DEFAULTS = Object.freeze({
  sessionTimeoutSec: 3600,
  execTimeoutSec: 120,
  memoryMb: 1024,
  cpus: 1,
  pids: 256,
  diskMb: 1024,
  outputBytes: 1_048_576,
});
