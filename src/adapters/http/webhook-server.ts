// Push-event receiver: POST /hooks/gitsync/<namespace>/<name>. A verified push calls
// `trigger(namespace, name)` (main.ts passes requestSync, which sets the sync-requested
// annotation, so any controller replica can receive the hook and the leader syncs).
// Signatures (GitHub, GitLab, generic) are verified by src/core/gitops/webhook-signature.ts.
//
// Anyone who can reach the receiver can send to it, so it gives nothing away and holds out:
// - the signature is computed while the body streams in (nothing is buffered before the sender
//   is authenticated), GitLab's token is checked before any body is read, the body is capped;
// - an unknown GitSync, one without spec.webhook, an unsigned request and a bad signature all
//   get the same 401 (the real reason is logged), so GitSyncs cannot be enumerated;
// - a delivery already handled (same delivery id) is acknowledged and triggers nothing;
// - connections are capped, each client (remote address) has a request rate, a request must
//   arrive whole within its deadline (slowloris), anything malformed is a 404, never a 500.
// Pushes for branches other than the GitSync's ref trigger a sync too (harmless: a sync of an
// unchanged commit applies nothing new).
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { z } from 'zod';
import { DEFAULT_WEBHOOK_SECRET_KEY, GitSync } from '../../api/git-sync.ts';
import { beginVerification, detectProvider, type WebhookVerdict } from '../../core/gitops/webhook-signature.ts';
import type { Result } from '../../core/shared/result.ts';
import { kinds, type KubeObject } from '../../ports/kube.ts';
import type { SecretReader } from '../../ports/secrets.ts';

export const WEBHOOK_PATH_PREFIX = '/hooks/gitsync/';

/** The limits of the receiver, and their defaults (docs/security.md lists them). */
export const WEBHOOK_LIMITS = {
  maxBodyBytes: 1024 * 1024,
  maxConnections: 128,
  /** Requests a client (remote address) may send per second on average, and at once. */
  perClientPerSecond: 5,
  perClientBurst: 20,
  /** Headers must arrive within this, the whole request within the next. */
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 15_000,
  /** Delivery ids remembered to ignore replays: how many and how long. */
  deliveries: 10_000,
  deliveryTtlMs: 24 * 3600_000,
  /** Webhook secrets are cached this long (a rotated secret takes effect within it). */
  secretTtlMs: 10_000,
} as const;

export interface WebhookServerOptions {
  /** Address to listen on, e.g. "0.0.0.0" in a cluster, "127.0.0.1" in tests. */
  host: string;
  /** Port (0 = any free port). */
  port: number;
  /** The webhook secret of a GitSync, or undefined when the GitSync is unknown or has no spec.webhook. */
  resolveSecret: (namespace: string, name: string) => Promise<string | undefined>;
  /** Called for every verified push. */
  trigger: (namespace: string, name: string) => void | Promise<void>;
  logger: Logger;
  maxBodyBytes?: number;
  maxConnections?: number;
  perClientPerSecond?: number;
  perClientBurst?: number;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** For tests: milliseconds now. */
  now?: () => number;
}

export interface WebhookServer {
  /** e.g. http://127.0.0.1:43123 */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The one answer to every request that is not authentic, whatever the reason. */
const UNAUTHORIZED = 'unauthorized: sign the body with the webhook secret of the GitSync (X-Hub-Signature-256, X-Gitlab-Token or X-Sluice-Signature-256)';

const PathParts = z.tuple([
  z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
    .max(63),
  z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/)
    .max(253),
]);

/** namespace/name from a request target, or undefined for anything else (including targets no URL parser reads). */
export function parseWebhookPath(url: string | undefined): { namespace: string; name: string } | undefined {
  let path: string;
  try {
    path = new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return undefined;
  }
  if (!path.startsWith(WEBHOOK_PATH_PREFIX)) return undefined;
  const parsed = PathParts.safeParse(path.slice(WEBHOOK_PATH_PREFIX.length).replace(/\/$/, '').split('/'));
  return parsed.success ? { namespace: parsed.data[0], name: parsed.data[1] } : undefined;
}

/** A map that forgets its oldest entries past `max` (insertion order). */
class BoundedMap<V> {
  private readonly map = new Map<string, V>();
  private readonly max: number;
  constructor(max: number) {
    this.max = max;
  }
  get(key: string): V | undefined {
    return this.map.get(key);
  }
  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }
}

/** Token buckets per client: `perSecond` on average, `burst` at once. */
class ClientLimiter {
  private readonly buckets = new BoundedMap<{ tokens: number; at: number }>(10_000);
  private readonly perSecond: number;
  private readonly burst: number;
  constructor(perSecond: number, burst: number) {
    this.perSecond = perSecond;
    this.burst = burst;
  }
  /** Takes a token; returns the seconds to wait when there is none. */
  take(client: string, now: number): number | undefined {
    const b = this.buckets.get(client) ?? { tokens: this.burst, at: now };
    const tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    if (tokens >= 1) {
      this.buckets.set(client, { tokens: tokens - 1, at: now });
      return undefined;
    }
    this.buckets.set(client, { tokens, at: now });
    return Math.max(1, Math.ceil((1 - tokens) / this.perSecond));
  }
}

class BodyTooLarge extends Error {}
class SenderGone extends Error {}

/** Feeds the body to `update` as it arrives, never keeping it; rejects past `limit` bytes. */
function streamBody(req: IncomingMessage, limit: number, update: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? 0) > limit) return reject(new BodyTooLarge());
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.pause();
        return reject(new BodyTooLarge());
      }
      update(chunk);
    });
    let ended = false;
    req.on('end', () => {
      ended = true;
      resolve();
    });
    // A sender that goes away mid-body: an 'aborted' error, or only 'close'.
    req.on('error', () => reject(new SenderGone()));
    req.on('close', () => {
      if (!ended) reject(new SenderGone());
    });
  });
}

export async function startWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  const limits = { ...WEBHOOK_LIMITS, ...definedOnly(opts) };
  const now = opts.now ?? Date.now;
  const log = opts.logger.child({ component: 'webhook' });
  const limiter = new ClientLimiter(limits.perClientPerSecond, limits.perClientBurst);
  const deliveries = new BoundedMap<number>(limits.deliveries);
  // Unknown GitSyncs are verified against a secret nobody knows: the same work, the same answer.
  const nobodysSecret = randomBytes(32).toString('hex');

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const reply = (status: number, message: string, extra: Record<string, string> = {}) => {
      if (res.headersSent) return;
      res.writeHead(status, { 'content-type': 'application/json', ...extra });
      res.end(JSON.stringify({ message }));
    };
    // Answered before the body is read: the connection closes after, so an unread body is not drained.
    const refuse = (status: number, message: string, extra: Record<string, string> = {}) => reply(status, message, { connection: 'close', ...extra });
    const client = req.socket.remoteAddress ?? 'unknown';
    const wait = limiter.take(client, now());
    if (wait !== undefined) return refuse(429, 'too many requests', { 'retry-after': String(wait) });
    const target = parseWebhookPath(req.url);
    if (!target) return refuse(404, `not found; POST to ${WEBHOOK_PATH_PREFIX}<namespace>/<name>`);
    if (req.method !== 'POST') return refuse(405, 'use POST', { allow: 'POST' });
    const gitsync = `${target.namespace}/${target.name}`;
    if (!detectProvider(req.headers)) {
      log.info({ gitsync, client, status: 401 }, 'Rejected unsigned webhook request');
      return refuse(401, UNAUTHORIZED);
    }
    const secret = await opts.resolveSecret(target.namespace, target.name).catch((err: unknown) => {
      log.warn({ gitsync, err: (err as Error).message }, 'Cannot read the webhook secret');
      return undefined;
    });
    const verification = beginVerification(req.headers, secret ?? nobodysSecret);
    let verdict: Result<WebhookVerdict>;
    if (verification.done) {
      verdict = verification.result;
    } else {
      try {
        await streamBody(req, limits.maxBodyBytes, (chunk) => verification.update(chunk));
      } catch (err) {
        if (err instanceof BodyTooLarge) return refuse(413, `body larger than ${limits.maxBodyBytes} bytes`);
        if (err instanceof SenderGone) return void log.info({ gitsync, client }, 'Webhook sender closed the connection before the end of the body');
        throw err;
      }
      verdict = verification.finish();
    }
    if (!verdict.ok || secret === undefined) {
      const why = secret === undefined ? 'unknown GitSync, or one without spec.webhook' : verdict.ok ? '' : verdict.error;
      log.warn({ gitsync, client, status: 401, why }, 'Rejected webhook request');
      return refuse(401, UNAUTHORIZED);
    }
    const { provider, event, action, deliveryId } = verdict.value;
    const delivery = deliveryId !== undefined ? `${gitsync} ${provider} ${deliveryId}` : undefined;
    const seen = delivery !== undefined ? deliveries.get(delivery) : undefined;
    if (seen !== undefined && now() - seen < limits.deliveryTtlMs) {
      log.info({ gitsync, provider, event, deliveryId }, 'Webhook delivery already handled; ignored');
      return reply(200, 'delivery already handled');
    }
    log.info({ gitsync, provider, event, action, deliveryId }, 'Webhook received');
    if (action === 'ping') return reply(200, 'pong');
    if (action === 'ignore') return reply(202, `event ${event} ignored`);
    await opts.trigger(target.namespace, target.name);
    if (delivery !== undefined) deliveries.set(delivery, now());
    return reply(202, 'sync requested');
  };

  const server: Server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs / 2),
    },
    (req, res) => {
      handle(req, res).catch((err: unknown) => {
        log.error({ err: (err as Error).message }, 'Webhook handling failed');
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json', connection: 'close' });
          res.end(JSON.stringify({ message: 'internal error' }));
        }
      });
    },
  );
  server.maxConnections = limits.maxConnections;
  server.maxHeadersCount = 100;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port, address, family } = server.address() as AddressInfo;
  const host = family === 'IPv6' ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The limits a caller set (undefined ones keep their default). */
function definedOnly(opts: WebhookServerOptions): Partial<Record<keyof typeof WEBHOOK_LIMITS, number>> {
  const out: Partial<Record<keyof typeof WEBHOOK_LIMITS, number>> = {};
  for (const key of Object.keys(WEBHOOK_LIMITS) as Array<keyof typeof WEBHOOK_LIMITS>) {
    const value = (opts as unknown as Record<string, unknown>)[key];
    if (typeof value === 'number') out[key] = value;
  }
  return out;
}

/**
 * A resolveSecret over the Secret reader: finds the GitSync (through `getGitSync`, e.g. an
 * informer's cache), then the key of the Secret its spec.webhook names. Secrets come from a
 * small cache (WEBHOOK_LIMITS.secretTtlMs, missing ones too, one read at a time per Secret), so
 * a flood of requests costs at most one API read per Secret per TTL, never one per request.
 */
export function webhookSecretResolver(
  secrets: SecretReader,
  getGitSync: (namespace: string, name: string) => Promise<KubeObject | undefined> | KubeObject | undefined,
  opts: { ttlMs?: number; now?: () => number } = {},
): (namespace: string, name: string) => Promise<string | undefined> {
  const ttlMs = opts.ttlMs ?? WEBHOOK_LIMITS.secretTtlMs;
  const now = opts.now ?? Date.now;
  const cache = new BoundedMap<{ at: number; value: Promise<Readonly<Record<string, string>> | undefined> }>(1024);
  const read = (namespace: string, secretName: string) => {
    const key = `${namespace}/${secretName}`;
    const hit = cache.get(key);
    if (hit && now() - hit.at < ttlMs) return hit.value;
    const value = secrets.read(namespace, secretName, 'webhook').catch(() => undefined);
    cache.set(key, { at: now(), value });
    return value;
  };
  return async (namespace, name) => {
    const obj = await getGitSync(namespace, name);
    if (!obj) return undefined;
    const parsed = GitSync.safeParse({ ...obj, apiVersion: obj.apiVersion ?? kinds.gitSync.apiVersion, kind: obj.kind ?? kinds.gitSync.kind });
    if (!parsed.success || !parsed.data.spec.webhook) return undefined;
    const ref = parsed.data.spec.webhook.secretRef;
    const value = (await read(namespace, ref.name))?.[ref.key ?? DEFAULT_WEBHOOK_SECRET_KEY];
    return value ? value.trim() || undefined : undefined;
  };
}
