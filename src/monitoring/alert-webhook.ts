// Delivers alerts to a webhook: JSON POST signed with HMAC-SHA256 over `<timestamp>.<body>`
// (headers x-ringfence-timestamp, x-ringfence-signature: sha256=<hex>), retried with backoff.
import { createHmac } from 'node:crypto';

export interface WebhookOptions {
  url: string;
  /** HMAC key; never logged. */
  secret: string;
  maxAttempts: number;
  baseDelayMs?: number;
  fetchImpl?: typeof fetch;
}

export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** true once a 2xx arrived; false after `maxAttempts` failures. */
export async function deliverWebhook(payload: unknown, o: WebhookOptions): Promise<boolean> {
  const body = JSON.stringify(payload);
  const doFetch = o.fetchImpl ?? fetch;
  for (let attempt = 1; attempt <= o.maxAttempts; attempt++) {
    const timestamp = String(Date.now());
    try {
      const res = await doFetch(o.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-ringfence-timestamp': timestamp,
          'x-ringfence-signature': signWebhook(o.secret, timestamp, body),
        },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return true;
    } catch {
      // network error: retried below
    }
    if (attempt < o.maxAttempts) {
      const delay = Math.min(30_000, (o.baseDelayMs ?? 500) * 2 ** (attempt - 1));
      await new Promise((r) => setTimeout(r, delay));
    }
  }
  return false;
}
