// One POST under a deadline, as every notifier sends: the body as given, the receiver's answer
// classified (2xx accepted; timeouts, network errors, 408, 425, 429 and 5xx worth a retry; any
// other status refused for good). Error texts never carry the URL's path or query (a Slack
// webhook URL is itself a secret) nor any secret value handed in.
import { redactText } from '../../core/shared/redact.ts';
import type { SendResult } from '../../ports/notifier.ts';

export interface PostOptions {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  /** Values to mask in any error text (tokens, signing keys, the URL itself). */
  secrets: string[];
}

const RETRYABLE = new Set([408, 425, 429]);

/** scheme://host:port only: what a log or a status may say about a receiver. */
export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}

export async function post(opts: PostOptions): Promise<SendResult> {
  const where = originOf(opts.url);
  // The URL itself is masked too: a Slack webhook URL is a secret as a whole.
  const clean = (text: string) => redactText(text, [opts.url, ...opts.secrets]);
  let res: Response;
  try {
    res = await fetch(opts.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'User-Agent': 'sluice-notifier', ...opts.headers },
      body: opts.body,
      redirect: 'error',
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${opts.timeoutMs}ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    return { ok: false, retryable: true, error: clean(`POST ${where}: ${why}`) };
  }
  // Read (a little of) the answer, under the same deadline, so the connection is released.
  let text = '';
  try {
    text = (await res.text()).slice(0, 200);
  } catch {
    // the body is not needed to judge the answer
  }
  if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
  const retryable = res.status >= 500 || RETRYABLE.has(res.status);
  const detail = text.trim().replace(/\s+/g, ' ');
  return { ok: false, retryable, status: res.status, error: clean(`POST ${where}: HTTP ${res.status}${detail ? `: ${detail}` : ''}`) };
}
