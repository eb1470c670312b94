// A webhook receiver for the e2e suite: records every request it gets (any
// path, any method) so scenarios can check what Sluice or Alertmanager sent.
//
//   POST|PUT /<anything>            recorded; answers 200 {"ok":true} (or a configured failure)
//   GET  /_requests[?path=/p]       recorded requests, oldest first (JSON)
//   DELETE /_requests               forget them
//   POST /_fail?path=/p&status=500&count=2   the next 2 requests to /p get HTTP 500
//   POST /_hold?path=/p&count=1     the next request to /p is recorded but not answered (status 0)
//                                   until POST /_release?path=/p; if the sender goes away first
//                                   it stays unacknowledged (status -1): it never got a 2xx
//   GET  /healthz
//
// Environment: WEBHOOK_ADDR=127.0.0.1:PORT (required).
import { createServer } from 'node:http';

/** One request as recorded and served back on GET /_requests (the harness reads this type). */
export interface Recorded {
  seq: number;
  time: string;
  method: string;
  path: string;
  query: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The body parsed as JSON, when it was JSON. */
  json?: unknown;
  /** Status the receiver answered with; 0 while held, -1 when the sender went away before an answer. */
  status: number;
}

const [host, port] = (process.env.WEBHOOK_ADDR ?? '').split(':');
if (!host || !port) {
  process.stderr.write('usage: WEBHOOK_ADDR=127.0.0.1:PORT node e2e/webhook/server.ts\n');
  process.exit(2);
}
const log = (msg: string) => process.stdout.write(`${new Date().toISOString()} ${msg}\n`);
const recorded: Recorded[] = [];
const failures = new Map<string, { status: number; count: number }>();
const holds = new Map<string, number>();
const held = new Map<string, Array<() => void>>();
let seq = 0;

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body) + '\n');
    };
    const route = `${req.method} ${url.pathname}`;
    if (route === 'GET /healthz') return reply(200, { ok: true });
    if (route === 'GET /_requests') {
      const p = url.searchParams.get('path');
      return reply(200, p ? recorded.filter((r) => r.path === p) : recorded);
    }
    if (route === 'DELETE /_requests') {
      recorded.length = 0;
      return reply(200, { ok: true });
    }
    if (route === 'POST /_fail') {
      const p = url.searchParams.get('path') ?? '/';
      const status = Number(url.searchParams.get('status') ?? '500');
      const count = Number(url.searchParams.get('count') ?? '1');
      failures.set(p, { status, count });
      log(`next ${count} request(s) to ${p} will get HTTP ${status}`);
      return reply(200, { path: p, status, count });
    }
    if (route === 'POST /_hold') {
      const p = url.searchParams.get('path') ?? '/';
      holds.set(p, Number(url.searchParams.get('count') ?? '1'));
      log(`next request(s) to ${p} will be held`);
      return reply(200, { path: p, held: holds.get(p) });
    }
    if (route === 'POST /_release') {
      const p = url.searchParams.get('path') ?? '/';
      const waiting = held.get(p) ?? [];
      held.delete(p);
      for (const release of waiting) release();
      return reply(200, { path: p, released: waiting.length });
    }
    const body = Buffer.concat(chunks).toString('utf8');
    let json: unknown;
    try {
      json = body ? JSON.parse(body) : undefined;
    } catch {
      json = undefined;
    }
    const f = failures.get(url.pathname);
    let status = 200;
    if (f && f.count > 0) {
      status = f.status;
      f.count--;
    }
    const entry: Recorded = {
      seq: ++seq,
      time: new Date().toISOString(),
      method: req.method ?? '',
      path: url.pathname,
      query: url.search,
      headers: req.headers,
      body,
      json,
      status,
    };
    recorded.push(entry);
    const holding = holds.get(url.pathname) ?? 0;
    if (holding > 0) {
      holds.set(url.pathname, holding - 1);
      entry.status = 0;
      log(`${req.method} ${url.pathname} (${body.length} bytes) held`);
      let answered = false;
      res.on('close', () => {
        if (answered) return;
        entry.status = -1;
        log(`${req.method} ${url.pathname}: the sender went away before an answer`);
      });
      const list = held.get(url.pathname) ?? [];
      list.push(() => {
        if (res.destroyed) return;
        answered = true;
        entry.status = status;
        reply(status, status === 200 ? { ok: true } : { error: 'configured failure' });
      });
      held.set(url.pathname, list);
      return;
    }
    log(`${req.method} ${url.pathname} (${body.length} bytes) -> ${status}`);
    reply(status, status === 200 ? { ok: true } : { error: 'configured failure' });
  });
});
server.listen(Number(port), host, () => log(`webhook receiver on http://${host}:${port}`));
const stop = (sig: string) => {
  log(`${sig}: exiting`);
  server.close();
  setTimeout(() => process.exit(0), 200).unref();
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
