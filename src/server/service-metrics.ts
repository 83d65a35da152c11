// The Prometheus registry of the service and the metrics other modules feed (workers, agent
// adapter, gateway, egress, sandboxes). One instance per service; served at /metrics.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class ServiceMetrics {
  readonly registry: Registry;
  readonly sessionsByStatus: Gauge<'status'>;
  readonly sessionsFinished: Counter<'tenant' | 'outcome'>;
  readonly queueDepth: Gauge<'status'>;
  readonly queueOldestWaitSeconds: Gauge;
  readonly queueWaitSeconds: Histogram;
  readonly toolCalls: Counter<'tool' | 'decision'>;
  readonly toolFailures: Counter<'tool'>;
  readonly toolDurationSeconds: Histogram<'tool'>;
  readonly egressDecisions: Counter<'decision'>;
  readonly modelCalls: Counter<'route' | 'outcome'>;
  readonly tokens: Counter<'tenant' | 'model' | 'kind'>;
  readonly costUsd: Counter<'tenant' | 'model'>;
  readonly retries: Counter<'kind'>;
  readonly breakerState: Gauge<'route'>;
  readonly sandboxCreateSeconds: Histogram<'driver'>;
  readonly sandboxExecSeconds: Histogram<'driver'>;
  readonly httpRequests: Counter<'route' | 'status'>;
  readonly httpDurationSeconds: Histogram<'route'>;
  readonly runningSessions: Gauge;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const r = new Registry();
    this.registry = r;
    if (options.defaultMetrics === true) collectDefaultMetrics({ register: r });
    const reg = { registers: [r] };
    this.sessionsByStatus = new Gauge({
      name: 'ringfence_sessions',
      help: 'Sessions by status',
      labelNames: ['status'],
      ...reg,
    });
    this.sessionsFinished = new Counter({
      name: 'ringfence_sessions_finished_total',
      help: 'Sessions finished by tenant and outcome (succeeded|failed|cancelled)',
      labelNames: ['tenant', 'outcome'],
      ...reg,
    });
    this.queueDepth = new Gauge({
      name: 'ringfence_queue_tasks',
      help: 'Queue tasks by status',
      labelNames: ['status'],
      ...reg,
    });
    this.queueOldestWaitSeconds = new Gauge({
      name: 'ringfence_queue_oldest_wait_seconds',
      help: 'Age of the oldest leasable waiting task',
      ...reg,
    });
    this.queueWaitSeconds = new Histogram({
      name: 'ringfence_queue_wait_seconds',
      help: 'Time from enqueue to lease',
      buckets: LATENCY_BUCKETS_S,
      ...reg,
    });
    this.toolCalls = new Counter({
      name: 'ringfence_tool_calls_total',
      help: 'Tool calls by tool and permission decision',
      labelNames: ['tool', 'decision'],
      ...reg,
    });
    this.toolFailures = new Counter({
      name: 'ringfence_tool_failures_total',
      help: 'Allowed tool calls whose result was an error',
      labelNames: ['tool'],
      ...reg,
    });
    this.toolDurationSeconds = new Histogram({
      name: 'ringfence_tool_duration_seconds',
      help: 'Tool run duration',
      labelNames: ['tool'],
      buckets: LATENCY_BUCKETS_S,
      ...reg,
    });
    this.egressDecisions = new Counter({
      name: 'ringfence_egress_decisions_total',
      help: 'Egress proxy decisions',
      labelNames: ['decision'],
      ...reg,
    });
    this.modelCalls = new Counter({
      name: 'ringfence_model_calls_total',
      help: 'Model calls by route and outcome (ok|error)',
      labelNames: ['route', 'outcome'],
      ...reg,
    });
    this.tokens = new Counter({
      name: 'ringfence_model_tokens_total',
      help: 'Tokens by tenant, model and kind (input|output)',
      labelNames: ['tenant', 'model', 'kind'],
      ...reg,
    });
    this.costUsd = new Counter({
      name: 'ringfence_model_cost_usd_total',
      help: 'Model cost in USD by tenant and model',
      labelNames: ['tenant', 'model'],
      ...reg,
    });
    this.retries = new Counter({
      name: 'ringfence_retries_total',
      help: 'Retries by kind (model|task)',
      labelNames: ['kind'],
      ...reg,
    });
    this.breakerState = new Gauge({
      name: 'ringfence_breaker_open',
      help: 'Circuit breaker state per route: 0 closed, 1 open, 0.5 half-open',
      labelNames: ['route'],
      ...reg,
    });
    this.sandboxCreateSeconds = new Histogram({
      name: 'ringfence_sandbox_create_seconds',
      help: 'Sandbox creation latency',
      labelNames: ['driver'],
      buckets: LATENCY_BUCKETS_S,
      ...reg,
    });
    this.sandboxExecSeconds = new Histogram({
      name: 'ringfence_sandbox_exec_seconds',
      help: 'Sandbox exec latency',
      labelNames: ['driver'],
      buckets: LATENCY_BUCKETS_S,
      ...reg,
    });
    this.httpRequests = new Counter({
      name: 'ringfence_http_requests_total',
      help: 'API requests by route and status',
      labelNames: ['route', 'status'],
      ...reg,
    });
    this.httpDurationSeconds = new Histogram({
      name: 'ringfence_http_request_duration_seconds',
      help: 'API request duration by route',
      labelNames: ['route'],
      buckets: LATENCY_BUCKETS_S,
      ...reg,
    });
    this.runningSessions = new Gauge({
      name: 'ringfence_worker_running_sessions',
      help: 'Sessions running in this process',
      ...reg,
    });
  }
}
