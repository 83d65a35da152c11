// The config used when no ringfence.yaml is found: the same tiers as examples/ringfence.yaml,
// kept small so a fresh checkout runs with zero set-up (scripted model, bubblewrap, no egress).
export const BUILTIN_CONFIG = {
  version: 1,
  policies: {
    default: {
      network: { allow: [] },
      limits: { memoryMb: 1024, pids: 256, execTimeoutSec: 120 },
      // Dev default: edits inside the workspace and the project's own checks run without asking.
      tools: {
        mode: 'acceptEdits',
        allow: ['Read', 'Glob', 'Grep', 'Bash(ls:*)', 'Bash(npm test:*)', 'Bash(node --test:*)'],
      },
    },
  },
  tiers: {
    dev: {
      model: { provider: 'scripted', model: 'scripted-demo' },
      logLevel: 'debug',
      sandbox: { driver: 'bubblewrap' },
      policy: 'default',
      features: { mockTools: false, monitoring: false },
    },
  },
} as const;
