// The e2e traffic helper: pods under KWOK run nothing, so this process plays the
// app's traffic. It watches pods (all namespaces) labelled
// `rollouts-pod-template-hash`, sends simulated requests to every Ready pod, and
// serves per-pod counters and a latency histogram on /metrics for Prometheus.
// Error rate and latency depend on the image tag of the pod's first container
// (see e2e/README.md) and can be overridden at runtime over HTTP.
//
// Environment: KUBECONFIG (required), TRAFFIC_ADDR=127.0.0.1:PORT (required),
// TRAFFIC_RPS (requests per second per Ready pod, default 10), TRAFFIC_EXTRA_SELECTOR (label
// selector terms a pod must also match, e.g. `bench/traffic=on`; default none).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { CoreV1Api, KubeConfig, Watch, type V1Pod } from '@kubernetes/client-node';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10];
const TICK_MS = 100;
const FLAKY_PERIOD_MS = 10_000;
const SELECTOR = 'rollouts-pod-template-hash';
const WATCH_SELECTOR = [SELECTOR, process.env.TRAFFIC_EXTRA_SELECTOR].filter(Boolean).join(',');

/** Per-pod state; GET /state serves it without the internal counters (the harness reads this type). */
export interface PodState {
  key: string; // namespace/name
  namespace: string;
  pod: string;
  rollout: string;
  hash: string;
  imageTag: string;
  ready: boolean;
  requests: number;
  errors: number;
  buckets: number[]; // cumulative counts per BUCKETS entry
  sum: number;
  count: number;
  reqCarry: number; // fractional requests carried to the next tick
  errCarry: number; // fractional errors carried to the next request
}

interface Overrides {
  errorRate: Map<string, number>; // tag ('*' = every tag) -> rate
  latency: Map<string, number>; // tag -> p99-ish seconds
  rps: Map<string, number>; // tag -> requests per second per pod
}

const log = (msg: string) => process.stdout.write(`${new Date().toISOString()} ${msg}\n`);

const addr = process.env.TRAFFIC_ADDR ?? '';
const [host, portText] = addr.split(':');
if (!host || !portText || !process.env.KUBECONFIG) {
  process.stderr.write('usage: KUBECONFIG=… TRAFFIC_ADDR=127.0.0.1:PORT node e2e/traffic/server.ts\n');
  process.exit(2);
}
const defaultRps = Number(process.env.TRAFFIC_RPS ?? '10');

const pods = new Map<string, PodState>();
const overrides: Overrides = { errorRate: new Map(), latency: new Map(), rps: new Map() };

/** Tag of an image reference: `repo/app:v2-bad` -> `v2-bad`; none -> `latest`; digest -> the digest. */
export function imageTag(image: string): string {
  const at = image.indexOf('@');
  if (at >= 0) return image.slice(at + 1);
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? image.slice(colon + 1) : 'latest';
}

function lookup<T>(m: Map<string, T>, tag: string): T | undefined {
  return m.get(tag) ?? m.get('*');
}

/** The built-in profile for a tag, before overrides. */
function profile(tag: string, now: number): { errorRate: number; latency: [number, number]; rpsFactor: number } {
  const t = tag.toLowerCase();
  if (t.includes('idle')) return { errorRate: 0, latency: [0.01, 0.03], rpsFactor: 0 };
  if (t.includes('bad')) return { errorRate: 0.5, latency: [0.01, 0.03], rpsFactor: 1 };
  if (t.includes('slow')) return { errorRate: 0, latency: [1, 2], rpsFactor: 1 };
  if (t.includes('flaky')) {
    const failing = Math.floor(now / FLAKY_PERIOD_MS) % 2 === 0;
    return { errorRate: failing ? 0.5 : 0, latency: [0.01, 0.03], rpsFactor: 1 };
  }
  return { errorRate: 0, latency: [0.01, 0.03], rpsFactor: 1 };
}

function effective(tag: string, now: number) {
  const p = profile(tag, now);
  const er = lookup(overrides.errorRate, tag);
  const lat = lookup(overrides.latency, tag);
  const rps = lookup(overrides.rps, tag);
  return {
    errorRate: er ?? p.errorRate,
    latency: lat !== undefined ? ([lat / 2, lat] as [number, number]) : p.latency,
    rps: rps ?? defaultRps * p.rpsFactor,
  };
}

function rolloutOf(p: V1Pod, hash: string): string {
  const owner = p.metadata?.ownerReferences?.find((o) => o.controller) ?? p.metadata?.ownerReferences?.[0];
  if (owner && hash && owner.name.endsWith(`-${hash}`)) return owner.name.slice(0, -hash.length - 1);
  return p.metadata?.labels?.app ?? owner?.name ?? p.metadata?.name ?? 'unknown';
}

function isReady(p: V1Pod): boolean {
  if (p.metadata?.deletionTimestamp) return false;
  if (p.status?.phase !== 'Running') return false;
  return Boolean(p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
}

function upsert(p: V1Pod): void {
  const ns = p.metadata?.namespace ?? '';
  const name = p.metadata?.name ?? '';
  const key = `${ns}/${name}`;
  const hash = p.metadata?.labels?.[SELECTOR] ?? '';
  const tag = imageTag(p.spec?.containers?.[0]?.image ?? '');
  const ready = isReady(p);
  const prev = pods.get(key);
  if (prev) {
    if (prev.ready !== ready) log(`pod ${key} ${ready ? 'Ready: receiving traffic' : 'not Ready: no traffic'}`);
    prev.ready = ready;
    // a pod's image can't really change, but keep labels truthful if it does
    prev.imageTag = tag;
    return;
  }
  pods.set(key, {
    key,
    namespace: ns,
    pod: name,
    rollout: rolloutOf(p, hash),
    hash,
    imageTag: tag,
    ready,
    requests: 0,
    errors: 0,
    buckets: BUCKETS.map(() => 0),
    sum: 0,
    count: 0,
    reqCarry: 0,
    errCarry: 0,
  });
  log(`pod ${key} tracked (hash ${hash}, tag ${tag}, ${ready ? 'Ready' : 'not Ready'})`);
}

function tick(): void {
  const now = Date.now();
  for (const s of pods.values()) {
    if (!s.ready) continue;
    const e = effective(s.imageTag, now);
    s.reqCarry += (e.rps * TICK_MS) / 1000;
    const n = Math.floor(s.reqCarry);
    s.reqCarry -= n;
    for (let i = 0; i < n; i++) {
      s.requests++;
      // deterministic error share: exactly `errorRate` of requests fail over time
      s.errCarry += e.errorRate;
      if (s.errCarry >= 1) {
        s.errCarry -= 1;
        s.errors++;
      }
      const [lo, hi] = e.latency;
      const d = lo + Math.random() * (hi - lo);
      s.sum += d;
      s.count++;
      for (let b = 0; b < BUCKETS.length; b++) if (d <= BUCKETS[b]!) s.buckets[b]!++;
    }
  }
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function metrics(): string {
  const out: string[] = [];
  const labels = (s: PodState) =>
    `namespace="${esc(s.namespace)}",pod="${esc(s.pod)}",rollout="${esc(s.rollout)}",` +
    `rollouts_pod_template_hash="${esc(s.hash)}",image_tag="${esc(s.imageTag)}"`;
  const all = [...pods.values()].sort((a, b) => a.key.localeCompare(b.key));
  out.push('# HELP sluice_demo_requests_total Simulated requests served by the pod.');
  out.push('# TYPE sluice_demo_requests_total counter');
  for (const s of all) out.push(`sluice_demo_requests_total{${labels(s)}} ${s.requests}`);
  out.push('# HELP sluice_demo_errors_total Simulated requests that failed (5xx).');
  out.push('# TYPE sluice_demo_errors_total counter');
  for (const s of all) out.push(`sluice_demo_errors_total{${labels(s)}} ${s.errors}`);
  out.push('# HELP sluice_demo_request_duration_seconds Simulated request latency.');
  out.push('# TYPE sluice_demo_request_duration_seconds histogram');
  for (const s of all) {
    const l = labels(s);
    BUCKETS.forEach((b, i) => out.push(`sluice_demo_request_duration_seconds_bucket{${l},le="${b}"} ${s.buckets[i]}`));
    out.push(`sluice_demo_request_duration_seconds_bucket{${l},le="+Inf"} ${s.count}`);
    out.push(`sluice_demo_request_duration_seconds_sum{${l}} ${s.sum.toFixed(6)}`);
    out.push(`sluice_demo_request_duration_seconds_count{${l}} ${s.count}`);
  }
  out.push('# HELP sluice_demo_ready_pods Pods currently receiving simulated traffic.');
  out.push('# TYPE sluice_demo_ready_pods gauge');
  out.push(`sluice_demo_ready_pods ${all.filter((s) => s.ready).length}`);
  return out.join('\n') + '\n';
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain; version=0.0.4' : 'application/json' });
  res.end(text);
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const q = url.searchParams;
  const method = req.method ?? 'GET';
  const tag = q.get('tag') ?? '*';
  const num = (name: string): number | undefined => {
    const v = q.get(name);
    if (v === null || v === '' || !Number.isFinite(Number(v))) return undefined;
    return Number(v);
  };
  switch (`${method} ${url.pathname}`) {
    case 'GET /metrics':
      return send(res, 200, metrics());
    case 'GET /healthz':
      return send(res, 200, 'ok\n');
    case 'GET /state':
      return send(res, 200, {
        pods: [...pods.values()].map(({ buckets: _b, reqCarry: _r, errCarry: _e, ...rest }) => rest),
        overrides: {
          errorRate: Object.fromEntries(overrides.errorRate),
          latency: Object.fromEntries(overrides.latency),
          rps: Object.fromEntries(overrides.rps),
        },
      });
    case 'GET /summary': {
      // A revision's counters as one JSON document: what a web metric reads (e2e/scenarios/analysis-web.test.ts).
      const ns = q.get('namespace') ?? '';
      const hash = q.get('hash') ?? '';
      const mine = [...pods.values()].filter((p) => p.namespace === ns && p.hash === hash);
      const requests = mine.reduce((n, p) => n + p.requests, 0);
      const errors = mine.reduce((n, p) => n + p.errors, 0);
      const errorRate = requests > 0 ? errors / requests : null;
      return send(res, 200, {
        namespace: ns,
        hash,
        data: { pods: mine.length, readyPods: mine.filter((p) => p.ready).length, requests, errors, errorRate, ok: errorRate !== null && errorRate <= 0.05 },
      });
    }
    case 'POST /error-rate': {
      const rate = num('rate');
      if (rate === undefined || rate < 0 || rate > 1) return send(res, 400, { error: 'rate must be a number in [0,1]' });
      overrides.errorRate.set(tag, rate);
      log(`override: error rate of tag ${tag} = ${rate}`);
      return send(res, 200, { tag, errorRate: rate });
    }
    case 'DELETE /error-rate':
      overrides.errorRate.delete(tag);
      log(`override: error rate of tag ${tag} cleared`);
      return send(res, 200, { tag, errorRate: null });
    case 'POST /latency': {
      const s = num('seconds');
      if (s === undefined || s < 0) return send(res, 400, { error: 'seconds must be a number >= 0' });
      overrides.latency.set(tag, s);
      log(`override: latency of tag ${tag} = ${s}s`);
      return send(res, 200, { tag, latencySeconds: s });
    }
    case 'DELETE /latency':
      overrides.latency.delete(tag);
      return send(res, 200, { tag, latencySeconds: null });
    case 'POST /rps': {
      const r = num('rate');
      if (r === undefined || r < 0) return send(res, 400, { error: 'rate must be a number >= 0' });
      overrides.rps.set(tag, r);
      log(`override: rps of tag ${tag} = ${r}`);
      return send(res, 200, { tag, rps: r });
    }
    case 'DELETE /rps':
      overrides.rps.delete(tag);
      return send(res, 200, { tag, rps: null });
    case 'POST /reset':
      overrides.errorRate.clear();
      overrides.latency.clear();
      overrides.rps.clear();
      log('override: all cleared');
      return send(res, 200, { reset: true });
    default:
      return send(res, 404, { error: `no route ${method} ${url.pathname}` });
  }
}

// --- pod watch: list, then watch from the list's resourceVersion; relist on any end.
const kc = new KubeConfig();
kc.loadFromFile(process.env.KUBECONFIG!);
const core = kc.makeApiClient(CoreV1Api);
const watcher = new Watch(kc);
let stopping = false;
let current: AbortController | undefined;

async function listAndWatch(): Promise<void> {
  while (!stopping) {
    try {
      const list = await core.listPodForAllNamespaces({ labelSelector: WATCH_SELECTOR });
      const seen = new Set<string>();
      for (const p of list.items) {
        upsert(p);
        seen.add(`${p.metadata?.namespace}/${p.metadata?.name}`);
      }
      for (const key of [...pods.keys()]) {
        if (!seen.has(key)) {
          pods.delete(key);
          log(`pod ${key} gone`);
        }
      }
      const rv = list.metadata?.resourceVersion;
      await new Promise<void>((resolveWatch) => {
        watcher
          .watch(
            '/api/v1/pods',
            { labelSelector: WATCH_SELECTOR, resourceVersion: rv, allowWatchBookmarks: true },
            (type, obj: V1Pod) => {
              if (type === 'ADDED' || type === 'MODIFIED') upsert(obj);
              else if (type === 'DELETED') {
                const key = `${obj.metadata?.namespace}/${obj.metadata?.name}`;
                if (pods.delete(key)) log(`pod ${key} gone`);
              }
            },
            (err) => {
              if (err && !stopping) log(`watch ended: ${err.message ?? err}`);
              resolveWatch();
            },
          )
          .then((ac) => {
            current = ac;
          })
          .catch((err: Error) => {
            if (!stopping) log(`watch failed: ${err.message}`);
            resolveWatch();
          });
      });
    } catch (err) {
      if (!stopping) log(`list failed: ${(err as Error).message}`);
    }
    if (!stopping) await new Promise((r) => setTimeout(r, 500));
  }
}

const server = createServer(handle);
server.listen(Number(portText), host, () => {
  log(`traffic helper listening on http://${host}:${portText} (${defaultRps} rps per Ready pod)`);
});
const ticker = setInterval(tick, TICK_MS);
void listAndWatch();

function shutdown(sig: string): void {
  stopping = true;
  log(`${sig}: exiting`);
  clearInterval(ticker);
  current?.abort();
  server.close();
  setTimeout(() => process.exit(0), 200).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
