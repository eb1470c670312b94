// The notifier port: one implementation per channel type (src/adapters/notifiers/), made by a
// factory keyed by type, and a no-op. What is sent is rendered in core/notify/render.ts; an
// adapter only signs, posts under a deadline, and says whether the receiver accepted.
import type { Notification, OutboxEntry } from '../api/notification-policy.ts';
import type { Result } from '../core/shared/result.ts';

export interface Delivery {
  notification: Notification;
  /** The dedupe key, sent as Idempotency-Key: the same on every attempt of this entry. */
  key: string;
  kind: OutboxEntry['kind'];
  /** When the entry was enqueued: a resolve's endsAt. */
  enqueuedAt: Date;
  now: Date;
}

export type SendResult =
  | { ok: true; status: number }
  /** retryable: a timeout, a network error, 408, 425, 429 or 5xx; otherwise the receiver refused it for good. */
  | { ok: false; retryable: boolean; error: string; status?: number };

export interface Notifier {
  readonly type: string;
  send(delivery: Delivery): Promise<SendResult>;
}

/** A channel with its secrets resolved (never logged, never written to status). */
export interface ChannelConfig {
  name: string;
  type: string;
  url: string;
  signingSecret?: string;
  token?: string;
  timeoutMs: number;
  /** alertmanager: generatorURL template ({namespace}, {name}, {kind}). */
  generatorURL?: string;
}

export interface NotifierFactory {
  /** An unknown type is an error, never a fallback. */
  create(config: ChannelConfig): Result<Notifier>;
}
