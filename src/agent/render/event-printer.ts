// Human-readable live rendering of agent events for `ringfence run`: assistant text as it
// streams, one line per tool call with its decision, a spinner on a TTY, and the final summary.
import type { AgentEvent, ResultEvent } from '../agent-events.js';

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const SPINNER_INTERVAL_MS = 80;

export interface PrinterStreams {
  out: NodeJS.WritableStream;
  /** Spinner target; only used when `tty` is true. */
  err: NodeJS.WritableStream;
  tty: boolean;
}

function brief(input: Record<string, unknown>): string {
  const main = input['command'] ?? input['file_path'] ?? input['pattern'] ?? input['url'];
  const text = typeof main === 'string' ? main : JSON.stringify(input);
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > 100 ? `${oneLine.slice(0, 97)}...` : oneLine;
}

export class EventPrinter {
  readonly #s: PrinterStreams;
  #timer: NodeJS.Timeout | undefined;
  #frame = 0;
  #midLine = false;

  constructor(streams: PrinterStreams) {
    this.#s = streams;
  }

  /** Shows the spinner while the model thinks (TTY only). */
  thinking(on: boolean): void {
    if (!this.#s.tty) return;
    if (on && this.#timer === undefined) {
      this.#timer = setInterval(() => {
        this.#s.err.write(`\r${SPINNER[this.#frame++ % SPINNER.length] ?? ''} thinking…`);
      }, SPINNER_INTERVAL_MS);
    } else if (!on && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#s.err.write('\r\x1b[K');
    }
  }

  print(e: AgentEvent): void {
    switch (e.type) {
      case 'system':
        this.#line(`● session ${e.session_id} · model ${e.model} · mode ${e.permissionMode}`);
        for (const m of e.mcp_servers)
          this.#line(`  mcp ${m.name}: ${m.status}${m.error ? ` (${m.error})` : ''}`);
        this.thinking(true);
        break;
      case 'text_delta':
        this.thinking(false);
        this.#s.out.write(e.text);
        this.#midLine = !e.text.endsWith('\n');
        break;
      case 'assistant':
        this.thinking(false);
        if (this.#midLine) this.#s.out.write('\n');
        this.#midLine = false;
        break;
      case 'tool_decision': {
        const mark = e.behavior === 'allow' ? '▶' : '✖';
        const why = e.rule ? `${e.decided_by}: ${e.rule}` : e.decided_by;
        this.#line(
          `${mark} ${e.tool}(${brief(e.input)}) — ${e.behavior} (${why})${e.behavior === 'deny' ? `: ${e.message}` : ''}`,
        );
        break;
      }
      case 'tool_result':
        this.#line(
          `  ${e.is_error ? '✗' : '✓'} ${e.tool} ${e.exit_code === undefined ? '' : `exit ${e.exit_code} `}${e.output_bytes} bytes, ${e.duration_ms.toFixed(0)} ms${e.mocked ? ' (mock)' : ''}`,
        );
        break;
      case 'approval_request':
        this.thinking(false);
        break;
      case 'approval_resolved':
        this.#line(`  approval ${e.request_id.slice(0, 8)}: ${e.behavior} (${e.outcome})`);
        break;
      case 'gateway':
        this.#line(
          `  gateway: ${e.event.type}${'reason' in e.event ? ` (${e.event.reason})` : ''}`,
        );
        break;
      case 'user':
        this.thinking(true);
        break;
      case 'result':
        this.thinking(false);
        this.summary(e);
        break;
    }
  }

  summary(r: ResultEvent): void {
    const tokens = `${r.usage.input_tokens} in / ${r.usage.output_tokens} out tokens`;
    const status = r.subtype === 'success' ? '✔ success' : `✘ ${r.subtype}`;
    this.#line(`\n${status} — ${r.stop_reason}`);
    if (r.subtype !== 'success') this.#line(`  ${r.result}`);
    this.#line(
      `  ${r.num_turns} turns · ${tokens} · $${r.total_cost_usd.toFixed(4)} · ${(r.duration_ms / 1000).toFixed(1)} s · ${r.permission_denials.length} denied`,
    );
  }

  #line(text: string): void {
    if (this.#midLine) this.#s.out.write('\n');
    this.#midLine = false;
    this.#s.out.write(`${text}\n`);
  }
}
