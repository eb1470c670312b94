// Push-webhook signatures, verified as the body arrives. Pure (hashing is computation, not I/O):
// the receiver (src/adapters/http/webhook-server.ts) feeds it headers and body chunks.
//
// Accepted signatures, each checked in constant time against the GitSync's webhook secret:
// - GitHub (and Gitea/Forgejo, which send the same headers): X-Hub-Signature-256:
//   sha256=<hex HMAC-SHA256 of the raw body>; X-GitHub-Event `push` triggers, `ping` answers,
//   other events are acknowledged and ignored. Delivery id: X-GitHub-Delivery (X-Gitea-Delivery).
// - GitLab: X-Gitlab-Token: <the secret>, decided from the headers before any body is read;
//   X-Gitlab-Event "Push Hook" and "Tag Push Hook" trigger. Delivery id: X-Gitlab-Event-UUID.
// - Generic (CI scripts, other forges): X-Sluice-Signature-256: sha256=<hex HMAC-SHA256 of
//   the raw body>; always triggers. Delivery id (optional): X-Sluice-Delivery.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Result } from '../shared/result.ts';

export type WebhookProvider = 'github' | 'gitlab' | 'generic';

/** Request headers as node:http gives them (lower-case names). */
export type WebhookHeaders = Readonly<Record<string, string | string[] | undefined>>;

export interface WebhookVerdict {
  provider: WebhookProvider;
  action: 'trigger' | 'ping' | 'ignore';
  event: string;
  /** The sender's id of this delivery, when it sends one (replays carry the same id). */
  deliveryId?: string;
}

/** Verifying one request: decided from the headers alone, or after the whole body went through `update`. */
export type Verification = { done: true; result: Result<WebhookVerdict> } | { done: false; update(chunk: Uint8Array): void; finish(): Result<WebhookVerdict> };

export const UNSIGNED = 'unsigned request: send X-Hub-Signature-256, X-Gitlab-Token or X-Sluice-Signature-256';

const header = (headers: WebhookHeaders, name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** Which provider signed the request (by its signature header), if any. */
export function detectProvider(headers: WebhookHeaders): WebhookProvider | undefined {
  if (header(headers, 'x-hub-signature-256') !== undefined) return 'github';
  if (header(headers, 'x-gitlab-token') !== undefined) return 'gitlab';
  if (header(headers, 'x-sluice-signature-256') !== undefined) return 'generic';
  return undefined;
}

const DELIVERY_HEADERS: Record<WebhookProvider, readonly string[]> = {
  github: ['x-github-delivery', 'x-gitea-delivery', 'x-forgejo-delivery'],
  gitlab: ['x-gitlab-event-uuid', 'x-gitlab-webhook-uuid'],
  generic: ['x-sluice-delivery'],
};

function deliveryIdOf(headers: WebhookHeaders, provider: WebhookProvider): string | undefined {
  for (const name of DELIVERY_HEADERS[provider]) {
    const value = header(headers, name)?.trim();
    if (value) return value.slice(0, 200);
  }
  return undefined;
}

function verdictFor(provider: WebhookProvider, headers: WebhookHeaders): WebhookVerdict {
  const deliveryId = deliveryIdOf(headers, provider);
  const id = deliveryId !== undefined ? { deliveryId } : {};
  switch (provider) {
    case 'github': {
      const event = header(headers, 'x-github-event') ?? header(headers, 'x-gitea-event') ?? '';
      return { provider, event, action: event === 'push' ? 'trigger' : event === 'ping' ? 'ping' : 'ignore', ...id };
    }
    case 'gitlab': {
      const event = header(headers, 'x-gitlab-event') ?? '';
      return { provider, event, action: event === 'Push Hook' || event === 'Tag Push Hook' ? 'trigger' : 'ignore', ...id };
    }
    case 'generic':
      return { provider, event: 'push', action: 'trigger', ...id };
  }
}

/** Equal in constant time whatever the lengths (both sides hashed first). */
function equalConstantTime(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/**
 * Starts verifying a request against `secret`. GitLab's token (and a missing signature) is
 * decided at once, so the receiver reads no body from a sender that cannot be authentic; an
 * HMAC signature is computed over the chunks given to `update`, nothing is kept.
 */
export function beginVerification(headers: WebhookHeaders, secret: string): Verification {
  const provider = detectProvider(headers);
  if (provider === undefined) return { done: true, result: { ok: false, error: UNSIGNED } };
  if (provider === 'gitlab') {
    const ok = equalConstantTime(header(headers, 'x-gitlab-token') ?? '', secret);
    return { done: true, result: ok ? { ok: true, value: verdictFor(provider, headers) } : { ok: false, error: 'bad X-Gitlab-Token' } };
  }
  const name = provider === 'github' ? 'x-hub-signature-256' : 'x-sluice-signature-256';
  const given = (header(headers, name) ?? '').trim().toLowerCase();
  const hmac = createHmac('sha256', secret);
  return {
    done: false,
    update: (chunk) => void hmac.update(chunk),
    finish: () =>
      equalConstantTime(given, `sha256=${hmac.digest('hex')}`)
        ? { ok: true, value: verdictFor(provider, headers) }
        : { ok: false, error: `bad ${provider === 'github' ? 'X-Hub-Signature-256' : 'X-Sluice-Signature-256'}` },
  };
}

/** Verifies a request whose whole body is at hand. */
export function verifyWebhook(headers: WebhookHeaders, body: Uint8Array, secret: string): Result<WebhookVerdict> {
  const v = beginVerification(headers, secret);
  if (v.done) return v.result;
  v.update(body);
  return v.finish();
}
