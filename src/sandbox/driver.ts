// The SandboxDriver contract every isolation driver implements (bubblewrap, docker, gvisor).
// A sandbox lives for a whole session; `destroy` kills everything inside it.
import type { Policy } from '../policy/policy-schema.js';

export type DriverName = 'bubblewrap' | 'docker' | 'gvisor';

export interface CreateSandboxOptions {
  /** Host directory shown read-write at /workspace. Created if missing. */
  workspace: string;
  policy: Policy;
  /** Identifies the sandbox in logs, labels and the state directory. */
  sessionId?: string;
  tenantId?: string;
  /** Unix socket of this session's egress proxy, bound into the sandbox when given. */
  egressSocket?: string;
  /** Extra env visible to every exec (proxy variables, CA paths). */
  env?: Record<string, string>;
  /** Host files to bind read-only at a sandbox path (e.g. the egress CA). */
  extraReadOnly?: { host: string; sandbox: string }[];
  signal?: AbortSignal;
}

export interface ExecOptions {
  /** Working directory inside the sandbox; must be /workspace or below. Default /workspace. */
  cwd?: string;
  env?: Record<string, string>;
  /** Data written to the command's stdin, then closed. Absent: stdin is empty. */
  stdin?: string | Uint8Array | AsyncIterable<Uint8Array>;
  /** Wall-clock limit for this exec; the whole process tree is killed when it fires. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Streaming callbacks; the full (capped) output is also in the result. */
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Per-stream cap, head + tail kept. Default: the policy's outputBytes. */
  maxOutputBytes?: number;
}

/** Why an exec ended other than by exiting on its own. */
export type LimitHit =
  | 'timeout'
  | 'memory limit'
  | 'pids limit'
  | 'disk limit'
  | 'output limit'
  | 'aborted'
  | 'sandbox destroyed';

export interface ExecResult {
  exitCode: number;
  /** Signal that ended the command, if any. */
  signal: string | undefined;
  stdout: string;
  stderr: string;
  /** Bytes dropped from the middle of each stream by the output cap. */
  stdoutTruncatedBytes: number;
  stderrTruncatedBytes: number;
  /** Set when a limit ended or cut the command; exitCode is 137 for kills. */
  limit: LimitHit | undefined;
  durationMs: number;
}

export interface DirEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
}

export interface SandboxStats {
  memoryBytes: number | undefined;
  pids: number | undefined;
  cpuUsageMs: number | undefined;
  diskBytes: number | undefined;
  /** How limits are enforced: cgroup v1/v2 or rlimit fallback. */
  limitsVia: 'cgroup-v1' | 'cgroup-v2' | 'rlimit' | 'container';
}

export interface Sandbox {
  readonly id: string;
  readonly driver: DriverName;
  /** Host path of the workspace. */
  readonly workspace: string;
  /** Host pid of a process inside the sandbox's network namespace (for the egress relay). */
  readonly initPid?: number | undefined;
  /** Host uid the sandbox's processes run as, when it is not the caller's own. */
  readonly hostUid?: number | undefined;
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** Paths are relative to /workspace (or absolute under it); links are never followed out. */
  readFile(path: string, options?: { maxBytes?: number; signal?: AbortSignal }): Promise<Buffer>;
  writeFile(
    path: string,
    data: string | Uint8Array,
    options?: { signal?: AbortSignal },
  ): Promise<void>;
  list(path: string, options?: { signal?: AbortSignal }): Promise<DirEntry[]>;
  stats(): Promise<SandboxStats>;
  /** Kills every process and releases resources. Idempotent: returns the in-flight promise. */
  destroy(): Promise<void>;
}

export interface SandboxDriver {
  readonly name: DriverName;
  /**
   * How the session's egress socket becomes 127.0.0.1:3128 inside: 'netns' (default) = a relay
   * on the host joins the sandbox's network namespace (needs `initPid`); 'inside' = create()
   * with `egressSocket` binds the socket in and starts the relay inside the sandbox itself.
   */
  readonly egressRelay?: 'netns' | 'inside';
  /** Throws SandboxError('sandbox_unavailable') with the reason when this host cannot run it. */
  create(options: CreateSandboxOptions): Promise<Sandbox>;
  /** What works on this machine, for `ringfence doctor`. */
  probe(): Promise<DriverProbe>;
  close(): Promise<void>;
}

export interface DriverProbe {
  driver: DriverName;
  usable: boolean;
  details: Record<string, string | boolean | number>;
  problems: string[];
}
