// Prometheus Alertmanager through its v2 API: POST <url>/api/v2/alerts with one alert whose
// labels identify the object and the transition. A problem is posted with endsAt ahead
// (alertLifetimeMs) and posted again while it is open; once it is over the same labels are
// posted with endsAt = when it was seen to be over, which resolves the alert. Alertmanager's
// own grouping, silences and routes then apply.
import { fillLink, objectPath, renderAlert } from '../../core/notify/render.ts';
import type { ChannelConfig, Delivery, Notifier, SendResult } from '../../ports/notifier.ts';
import { post } from './http.ts';
import { secretsOf } from './webhook.ts';

export class AlertmanagerNotifier implements Notifier {
  readonly type = 'alertmanager';
  private readonly config: ChannelConfig;
  private readonly lifetimeMs: number;
  private readonly apiServer: string;

  constructor(config: ChannelConfig, opts: { alertLifetimeMs: number; apiServerURL: string }) {
    this.config = config;
    this.lifetimeMs = opts.alertLifetimeMs;
    this.apiServer = opts.apiServerURL.replace(/\/+$/, '');
  }

  async send(d: Delivery): Promise<SendResult> {
    const n = d.notification;
    const endsAt = d.kind === 'resolve' ? d.enqueuedAt : new Date(d.now.getTime() + this.lifetimeMs);
    const link = this.config.generatorURL ? fillLink(this.config.generatorURL, n) : `${this.apiServer}${objectPath(n)}`;
    const body = JSON.stringify([renderAlert(n, endsAt, link)]);
    const headers: Record<string, string> = { 'Idempotency-Key': d.key };
    if (this.config.token) headers.Authorization = `Bearer ${this.config.token}`;
    const url = `${this.config.url.replace(/\/+$/, '')}/api/v2/alerts`;
    return post({ url, body, headers, timeoutMs: this.config.timeoutMs, secrets: secretsOf(this.config) });
  }
}
