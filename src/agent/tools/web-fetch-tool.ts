// The WebFetch tool: curl INSIDE the sandbox, so the request leaves only through the session's
// egress proxy env (the sandbox has no other route); a denied fetch is a tool error. HTML → text.
import { z } from 'zod';
import { DENY_REASONS, type DenyReason } from '../../egress/reasons.js';
import { htmlToText, looksLikeHtml } from './html-to-text.js';
import { toolError, type AgentTool, type ToolContext, type ToolOutcome } from './agent-tool.js';

/** Largest body fetched: 5 MiB. */
export const FETCH_MAX_BYTES = 5 * 1024 * 1024;
const META_MARK = '\n__RINGFENCE_FETCH_META__';

/** The curl error line(s), plus the egress proxy's reason when it refused the request. */
function fetchFailure(exitCode: number, stderr: string): string {
  const lines = stderr.split(/\r?\n/);
  const curlError = lines.filter((l) => /^curl: \(\d+\)/.test(l)).join('; ');
  const code = lines
    .map((l) => /^x-proxy-error:\s*([a-z_]+)\s*$/i.exec(l)?.[1])
    .filter((c): c is string => c !== undefined)
    .at(-1);
  const text =
    code !== undefined && Object.hasOwn(DENY_REASONS, code)
      ? DENY_REASONS[code as DenyReason][1]
      : undefined;
  const reason =
    code === undefined
      ? ''
      : ` (blocked by ringfence egress policy: ${text === undefined ? code : `${text} [${code}]`})`;
  return `Fetch failed (curl exit ${exitCode}): ${curlError || 'no route to the host'}${reason}`;
}

export const webFetchInputSchema = z
  .object({
    url: z.string().url().describe('http(s) URL to fetch.'),
    prompt: z.string().optional().describe('What to look for in the page (shown with the text).'),
  })
  .strict();

export class WebFetchTool implements AgentTool<typeof webFetchInputSchema> {
  readonly name = 'WebFetch';
  readonly description =
    "Fetches a URL through the session's egress proxy and returns the page as text. Only hosts the policy allows are reachable.";
  readonly inputSchema = {
    type: 'object' as const,
    properties: {
      url: { type: 'string', description: 'The URL to fetch' },
      prompt: { type: 'string', description: 'What to extract from the page' },
    },
    required: ['url'],
    additionalProperties: false,
  };
  readonly schema = webFetchInputSchema;

  async run(input: z.infer<typeof webFetchInputSchema>, ctx: ToolContext): Promise<ToolOutcome> {
    if (!/^https?:\/\//i.test(input.url))
      return toolError('Only http and https URLs can be fetched');
    const timeoutSec = Math.max(1, Math.min(60, Math.floor(ctx.execTimeoutMs / 1000)));
    const r = await ctx.sandbox.exec(
      [
        'curl',
        '-sS',
        '-L',
        '--max-redirs',
        '5',
        '--proto',
        '=http,https',
        '--proto-redir',
        '=http,https',
        '--max-time',
        String(timeoutSec),
        '--max-filesize',
        String(FETCH_MAX_BYTES),
        // Response headers (the proxy's CONNECT answer included) go to stderr: the reason of a
        // refused HTTPS tunnel is only in its X-Proxy-Error header.
        '-D',
        '/dev/stderr',
        '-w',
        `${META_MARK}%{http_code} %{content_type}`,
        '--',
        input.url,
      ],
      {
        timeoutMs: (timeoutSec + 5) * 1000,
        signal: ctx.signal,
        maxOutputBytes: FETCH_MAX_BYTES + 4096,
      },
    );
    const at = r.stdout.lastIndexOf(META_MARK);
    const body = at >= 0 ? r.stdout.slice(0, at) : r.stdout;
    // "%{http_code} %{content_type}": the content type itself may hold spaces ("; charset=").
    const meta = at >= 0 ? r.stdout.slice(at + META_MARK.length) : '';
    const sp = meta.indexOf(' ');
    const status = (sp < 0 ? meta : meta.slice(0, sp)) || '000';
    const contentType = sp < 0 ? '' : meta.slice(sp + 1).trim();
    if (r.exitCode !== 0) return toolError(fetchFailure(r.exitCode, r.stderr), r.exitCode);
    const code = Number(status);
    const text = looksLikeHtml(contentType, body) ? htmlToText(body) : body;
    const header = `URL: ${input.url}\nStatus: ${status}${contentType ? `\nContent-Type: ${contentType}` : ''}${
      input.prompt ? `\nPrompt: ${input.prompt}` : ''
    }`;
    return { content: `${header}\n\n${text}`, isError: code >= 400 || code === 0 };
  }
}
