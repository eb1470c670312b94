// The generic webhook: the versioned JSON body of core/notify/render.ts, an Idempotency-Key
// header (the same on every attempt of one notification to one channel), and, when a signing
// secret is set, X-Sluice-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>.
import { createHmac } from 'node:crypto';
import { renderWebhook } from '../../core/notify/render.ts';
import type { ChannelConfig, Delivery, Notifier, SendResult } from '../../ports/notifier.ts';
import { post } from './http.ts';

export const SIGNATURE_HEADER = 'X-Sluice-Signature';

export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

export class WebhookNotifier implements Notifier {
  readonly type = 'webhook';
  private readonly config: ChannelConfig;

  constructor(config: ChannelConfig) {
    this.config = config;
  }

  async send(d: Delivery): Promise<SendResult> {
    if (d.kind !== 'notify') return { ok: true, status: 204 };
    const body = JSON.stringify(renderWebhook(d.notification, d.key));
    const headers: Record<string, string> = { 'Idempotency-Key': d.key };
    if (this.config.signingSecret) headers[SIGNATURE_HEADER] = signBody(body, this.config.signingSecret);
    if (this.config.token) headers.Authorization = `Bearer ${this.config.token}`;
    return post({ url: this.config.url, body, headers, timeoutMs: this.config.timeoutMs, secrets: secretsOf(this.config) });
  }
}

export function secretsOf(config: ChannelConfig): string[] {
  return [config.signingSecret, config.token].filter((s): s is string => !!s);
}
