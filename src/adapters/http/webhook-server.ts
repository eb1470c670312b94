// Push-event receiver: POST /hooks/gitsync/<namespace>/<name>. A verified push calls
// `trigger(namespace, name)` (main.ts passes requestSync, which sets the sync-requested
// annotation, so any controller replica can receive the hook and the leader syncs).
//
// Accepted signatures (checked in constant time against the GitSync's webhook Secret):
// - GitHub (and Gitea/Forgejo, which send the same headers): X-GitHub-Event and
//   X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>. `push` triggers,
//   `ping` answers 200, other events are acknowledged and ignored.
// - GitLab: X-Gitlab-Event and X-Gitlab-Token: <the secret>. "Push Hook" and
//   "Tag Push Hook" trigger, other events are ignored.
// - Generic (CI scripts, other forges): X-Sluice-Signature-256: sha256=<hex HMAC-SHA256
//   of the raw body>; always triggers. E.g.
//     sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$secret" | sed 's/^.* //')
//     curl -X POST -H "X-Sluice-Signature-256: sha256=$sig" --data "$body" $URL
// Anything unsigned or badly signed: 401. Unknown GitSync, or one without spec.webhook: 404.
// Pushes for branches other than the GitSync's ref trigger a sync too (harmless: a sync
// of an unchanged commit applies nothing new).
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { z } from 'zod';
import { DEFAULT_WEBHOOK_SECRET_KEY, GitSync } from '../../api/git-sync.ts';
import { kinds, type KubeObject } from '../../ports/kube.ts';
import type { SecretReader } from '../../ports/secrets.ts';

export const WEBHOOK_PATH_PREFIX = '/hooks/gitsync/';
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

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
}

export interface WebhookServer {
  /** e.g. http://127.0.0.1:43123 */
  url: string;
  port: number;
  close(): Promise<void>;
}

export type Provider = 'github' | 'gitlab' | 'generic';

export type Verdict = { ok: true; provider: Provider; action: 'trigger' | 'ping' | 'ignore'; event: string } | { ok: false; status: 401; message: string };

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** Which provider signed the request (by its signature header), if any. */
export function detectProvider(headers: IncomingHttpHeaders): Provider | undefined {
  if (header(headers, 'x-hub-signature-256') !== undefined) return 'github';
  if (header(headers, 'x-gitlab-token') !== undefined) return 'gitlab';
  if (header(headers, 'x-sluice-signature-256') !== undefined) return 'generic';
  return undefined;
}

function equalHmac(given: string | undefined, body: Buffer, secret: string): boolean {
  if (!given) return false;
  const expected = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  const a = Buffer.from(given.trim().toLowerCase());
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function equalToken(given: string | undefined, secret: string): boolean {
  if (given === undefined) return false;
  // Hash both so the comparison is constant-time whatever the lengths.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(secret).digest();
  return timingSafeEqual(a, b);
}

/** Verifies a request against the secret and says what to do with it. */
export function verifyWebhook(headers: IncomingHttpHeaders, body: Buffer, secret: string): Verdict {
  const provider = detectProvider(headers);
  switch (provider) {
    case 'github': {
      if (!equalHmac(header(headers, 'x-hub-signature-256'), body, secret)) return { ok: false, status: 401, message: 'bad X-Hub-Signature-256' };
      const event = header(headers, 'x-github-event') ?? header(headers, 'x-gitea-event') ?? '';
      return { ok: true, provider, event, action: event === 'push' ? 'trigger' : event === 'ping' ? 'ping' : 'ignore' };
    }
    case 'gitlab': {
      if (!equalToken(header(headers, 'x-gitlab-token'), secret)) return { ok: false, status: 401, message: 'bad X-Gitlab-Token' };
      const event = header(headers, 'x-gitlab-event') ?? '';
      return { ok: true, provider, event, action: event === 'Push Hook' || event === 'Tag Push Hook' ? 'trigger' : 'ignore' };
    }
    case 'generic': {
      if (!equalHmac(header(headers, 'x-sluice-signature-256'), body, secret)) return { ok: false, status: 401, message: 'bad X-Sluice-Signature-256' };
      return { ok: true, provider, event: 'push', action: 'trigger' };
    }
    default:
      return { ok: false, status: 401, message: 'unsigned request: send X-Hub-Signature-256, X-Gitlab-Token or X-Sluice-Signature-256' };
  }
}

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

export function parseWebhookPath(url: string | undefined): { namespace: string; name: string } | undefined {
  const path = new URL(url ?? '/', 'http://localhost').pathname;
  if (!path.startsWith(WEBHOOK_PATH_PREFIX)) return undefined;
  const parsed = PathParts.safeParse(path.slice(WEBHOOK_PATH_PREFIX.length).replace(/\/$/, '').split('/'));
  return parsed.success ? { namespace: parsed.data[0], name: parsed.data[1] } : undefined;
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      reject(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  const limit = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = opts.logger.child({ component: 'webhook' });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const reply = (status: number, message: string) => {
      if (res.headersSent) return;
      res.writeHead(status, { 'content-type': 'application/json', ...(status === 413 ? { connection: 'close' } : {}) });
      res.end(JSON.stringify({ message }));
    };
    const target = parseWebhookPath(req.url);
    if (!target) return reply(404, `not found; POST to ${WEBHOOK_PATH_PREFIX}<namespace>/<name>`);
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return reply(405, 'use POST');
    }
    const provider = detectProvider(req.headers);
    if (!provider) {
      req.resume();
      log.info({ gitsync: `${target.namespace}/${target.name}`, status: 401 }, 'Rejected unsigned webhook request');
      return reply(401, 'unsigned request: send X-Hub-Signature-256, X-Gitlab-Token or X-Sluice-Signature-256');
    }
    let body: Buffer;
    try {
      body = await readBody(req, limit);
    } catch (err) {
      if (err instanceof BodyTooLarge) {
        req.resume(); // discard the rest; the connection closes after the reply
        return reply(413, `body larger than ${limit} bytes`);
      }
      throw err;
    }
    const secret = await opts.resolveSecret(target.namespace, target.name);
    if (secret === undefined) {
      log.info({ gitsync: `${target.namespace}/${target.name}`, status: 404 }, 'Webhook for an unknown GitSync, or one without spec.webhook');
      return reply(404, `no GitSync ${target.namespace}/${target.name} with spec.webhook`);
    }
    const verdict = verifyWebhook(req.headers, body, secret);
    if (!verdict.ok) {
      log.warn({ gitsync: `${target.namespace}/${target.name}`, provider, status: 401, why: verdict.message }, 'Rejected webhook request');
      return reply(401, verdict.message);
    }
    log.info({ gitsync: `${target.namespace}/${target.name}`, provider, event: verdict.event, action: verdict.action }, 'Webhook received');
    if (verdict.action === 'ping') return reply(200, 'pong');
    if (verdict.action === 'ignore') return reply(202, `event ${verdict.event} ignored`);
    await opts.trigger(target.namespace, target.name);
    return reply(202, 'sync requested');
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err: (err as Error).message }, 'Webhook handling failed');
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'internal error' }));
      }
    });
  });
  server.requestTimeout = 15_000;
  server.headersTimeout = 10_000;
  server.maxHeadersCount = 100;
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

/**
 * A resolveSecret over the kube port: finds the GitSync (through `getGitSync`, e.g. an
 * informer's cache, or the API), then the key of the Secret its spec.webhook names.
 */
export function webhookSecretResolver(
  secrets: SecretReader,
  getGitSync: (namespace: string, name: string) => Promise<KubeObject | undefined> | KubeObject | undefined,
): (namespace: string, name: string) => Promise<string | undefined> {
  return async (namespace, name) => {
    const obj = await getGitSync(namespace, name);
    if (!obj) return undefined;
    const parsed = GitSync.safeParse({ ...obj, apiVersion: obj.apiVersion ?? kinds.gitSync.apiVersion, kind: obj.kind ?? kinds.gitSync.kind });
    if (!parsed.success || !parsed.data.spec.webhook) return undefined;
    const ref = parsed.data.spec.webhook.secretRef;
    const value = (await secrets.read(namespace, ref.name, 'webhook').catch(() => undefined))?.[ref.key ?? DEFAULT_WEBHOOK_SECRET_KEY];
    return value ? value.trim() || undefined : undefined;
  };
}
