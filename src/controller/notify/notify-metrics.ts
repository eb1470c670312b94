// Metrics of the notification controller: sends by outcome, give-ups, outbox size and channel
// health per NotificationPolicy. A deleted policy's series are removed.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ChannelStatus } from '../../api/notification-policy.ts';
import { removeSeries } from '../runtime/remove-series.ts';

export type SendResultLabel = 'accepted' | 'retry' | 'refused';

export interface NotifyMetrics {
  sent(namespace: string, policy: string, channel: string, type: string, trigger: string, result: SendResultLabel, seconds: number): void;
  givenUp(namespace: string, policy: string, channel: string, type: string): void;
  outbox(namespace: string, policy: string, entries: number): void;
  channels(namespace: string, policy: string, channels: ChannelStatus[]): void;
  forgetPolicy(namespace: string, policy: string): void;
}

export const noNotifyMetrics: NotifyMetrics = {
  sent: () => {},
  givenUp: () => {},
  outbox: () => {},
  channels: () => {},
  forgetPolicy: () => {},
};

export function createNotifyMetrics(registry: Registry): NotifyMetrics {
  const sends = new Counter({
    name: 'sluice_notification_sends_total',
    help: 'Notification sends by channel and result: accepted (2xx), retry (timeout, network error, 5xx, 429) or refused (other 4xx)',
    labelNames: ['namespace', 'policy', 'channel', 'type', 'trigger', 'result'],
    registers: [registry],
  });
  const failures = new Counter({
    name: 'sluice_notification_send_failures_total',
    help: 'Notification sends the receiver did not accept',
    labelNames: ['namespace', 'policy', 'channel', 'type'],
    registers: [registry],
  });
  const givenUp = new Counter({
    name: 'sluice_notification_given_up_total',
    help: 'Notifications dropped undelivered (too old, refused, or the outbox full)',
    labelNames: ['namespace', 'policy', 'channel', 'type'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'sluice_notification_send_duration_seconds',
    help: 'Time of one notification request',
    labelNames: ['type'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const outbox = new Gauge({
    name: 'sluice_notification_outbox_entries',
    help: 'Notifications waiting in a NotificationPolicy outbox',
    labelNames: ['namespace', 'policy'],
    registers: [registry],
  });
  const ready = new Gauge({
    name: 'sluice_notification_channel_ready',
    help: '1 when a channel is configured well enough to send (URL and Secrets found)',
    labelNames: ['namespace', 'policy', 'channel', 'type'],
    registers: [registry],
  });
  const known = new Map<string, Set<string>>();
  return {
    sent(namespace, policy, channel, type, trigger, result, seconds) {
      sends.inc({ namespace, policy, channel, type, trigger, result });
      if (result !== 'accepted') failures.inc({ namespace, policy, channel, type });
      duration.observe({ type }, seconds);
    },
    givenUp: (namespace, policy, channel, type) => givenUp.inc({ namespace, policy, channel, type }),
    outbox: (namespace, policy, entries) => outbox.set({ namespace, policy }, entries),
    channels(namespace, policy, channels) {
      const key = `${namespace}/${policy}`;
      const seen = known.get(key) ?? new Set<string>();
      const now = new Set(channels.map((c) => `${c.name}\u0000${c.type}`));
      for (const old of seen) {
        if (now.has(old)) continue;
        const [channel = '', type = ''] = old.split('\u0000');
        ready.remove({ namespace, policy, channel, type });
      }
      for (const c of channels) ready.set({ namespace, policy, channel: c.name, type: c.type }, c.ready ? 1 : 0);
      known.set(key, now);
    },
    forgetPolicy(namespace, policy) {
      known.delete(`${namespace}/${policy}`);
      for (const metric of [sends, failures, givenUp, outbox, ready]) void removeSeries(metric, { namespace, policy });
    },
  };
}
