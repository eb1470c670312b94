// A Slack-compatible incoming webhook: a Block Kit message (core/notify/render.ts). Slack has no
// idempotency of its own; the Idempotency-Key header is sent all the same for compatible
// receivers (Mattermost, proxies) that honour it.
import { renderSlack } from '../../core/notify/render.ts';
import type { ChannelConfig, Delivery, Notifier, SendResult } from '../../ports/notifier.ts';
import { post } from './http.ts';
import { secretsOf } from './webhook.ts';

export class SlackNotifier implements Notifier {
  readonly type = 'slack';
  private readonly config: ChannelConfig;

  constructor(config: ChannelConfig) {
    this.config = config;
  }

  async send(d: Delivery): Promise<SendResult> {
    if (d.kind !== 'notify') return { ok: true, status: 204 };
    const headers: Record<string, string> = { 'Idempotency-Key': d.key };
    if (this.config.token) headers.Authorization = `Bearer ${this.config.token}`;
    return post({
      url: this.config.url,
      body: JSON.stringify(renderSlack(d.notification)),
      headers,
      timeoutMs: this.config.timeoutMs,
      secrets: secretsOf(this.config),
    });
  }
}
