// Notifiers by channel type. An unknown type is an error (never a quiet fallback to some
// other channel); so is a URL that is not http(s).
import type { Result } from '../../core/shared/result.ts';
import type { ChannelConfig, Notifier, NotifierFactory } from '../../ports/notifier.ts';
import { AlertmanagerNotifier } from './alertmanager.ts';
import { NoopNotifier } from './noop.ts';
import { SlackNotifier } from './slack.ts';
import { WebhookNotifier } from './webhook.ts';

export interface NotifierFactoryOptions {
  alertLifetimeMs: number;
  /** The API server's URL: the default generatorURL of an alert points at the object there. */
  apiServerURL: string;
}

export function createNotifierFactory(opts: NotifierFactoryOptions): NotifierFactory {
  return {
    create(config: ChannelConfig): Result<Notifier> {
      let url: URL;
      try {
        url = new URL(config.url);
      } catch {
        return { ok: false, error: `channel ${config.name}: the URL is not a valid URL` };
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, error: `channel ${config.name}: the URL must be http or https` };
      if (url.username || url.password) return { ok: false, error: `channel ${config.name}: credentials in the URL are not allowed (use tokenFrom)` };
      switch (config.type) {
        case 'webhook':
          return { ok: true, value: new WebhookNotifier(config) };
        case 'slack':
          return { ok: true, value: new SlackNotifier(config) };
        case 'alertmanager':
          return { ok: true, value: new AlertmanagerNotifier(config, opts) };
        case 'noop':
          return { ok: true, value: new NoopNotifier() };
        default:
          return { ok: false, error: `channel ${config.name}: unknown type "${config.type}" (webhook, slack or alertmanager)` };
      }
    },
  };
}
