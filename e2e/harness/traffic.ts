// Starts the traffic helper (e2e/traffic/server.ts) as its own process, and a small
// client for its HTTP API (usable from scenarios through the descriptor's url).
import { join } from 'node:path';
import { freePort, log, nodeBin, repoRoot, startProcess, type ManagedProcess } from './proc.ts';
import type { PodState } from '../traffic/server.ts';
import { waitFor } from './wait.ts';

/** A pod as GET /state serves it. */
export type TrafficPodState = Omit<PodState, 'buckets' | 'reqCarry' | 'errCarry'>;

export interface TrafficState {
  pods: TrafficPodState[];
  overrides: { errorRate: Record<string, number>; latency: Record<string, number>; rps: Record<string, number> };
}

/** Client for a running traffic helper. Tag '*' means every image tag. */
export interface TrafficClient {
  /** http://127.0.0.1:PORT */
  url: string;
  /** host:port, as a Prometheus target */
  target: string;
  /** Overrides the error rate (0..1) of pods whose image tag is `tag`. */
  setErrorRate(tag: string, rate: number): Promise<void>;
  clearErrorRate(tag: string): Promise<void>;
  /** Overrides latency: requests take between seconds/2 and seconds. */
  setLatency(tag: string, seconds: number): Promise<void>;
  clearLatency(tag: string): Promise<void>;
  /** Overrides requests per second per Ready pod (0 = no traffic: "no data"). */
  setRps(tag: string, rps: number): Promise<void>;
  clearRps(tag: string): Promise<void>;
  /** Clears every override. */
  reset(): Promise<void>;
  state(): Promise<TrafficState>;
  metrics(): Promise<string>;
}

export interface TrafficHandle extends TrafficClient {
  process: ManagedProcess;
  stop(): Promise<void>;
}

async function call(url: string, method: string): Promise<string> {
  const r = await fetch(url, { method, signal: AbortSignal.timeout(5000) });
  const body = await r.text();
  if (!r.ok) throw new Error(`${method} ${url}: HTTP ${r.status}: ${body}`);
  return body;
}

export function trafficClient(url: string): TrafficClient {
  const q = (path: string, params: Record<string, string | number>) =>
    `${url}${path}?${new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]))}`;
  return {
    url,
    target: new URL(url).host,
    setErrorRate: async (tag, rate) => void (await call(q('/error-rate', { tag, rate }), 'POST')),
    clearErrorRate: async (tag) => void (await call(q('/error-rate', { tag }), 'DELETE')),
    setLatency: async (tag, seconds) => void (await call(q('/latency', { tag, seconds }), 'POST')),
    clearLatency: async (tag) => void (await call(q('/latency', { tag }), 'DELETE')),
    setRps: async (tag, rate) => void (await call(q('/rps', { tag, rate }), 'POST')),
    clearRps: async (tag) => void (await call(q('/rps', { tag }), 'DELETE')),
    reset: async () => void (await call(`${url}/reset`, 'POST')),
    state: async () => JSON.parse(await call(`${url}/state`, 'GET')) as TrafficState,
    metrics: () => call(`${url}/metrics`, 'GET'),
  };
}

export interface TrafficOptions {
  kubeconfig: string;
  stateDir: string;
  /** Use this port (e.g. one already given to Prometheus); default a free one. */
  port?: number;
  /** Requests per second per Ready pod (default 10). */
  rps?: number;
  /** Label selector terms a pod must also match to get traffic (default none: every rollout pod). */
  extraSelector?: string;
}

export async function startTraffic(opts: TrafficOptions): Promise<TrafficHandle> {
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const proc = startProcess({
    name: 'traffic',
    cmd: nodeBin,
    args: [join(repoRoot, 'e2e', 'traffic', 'server.ts')],
    env: {
      ...process.env,
      KUBECONFIG: opts.kubeconfig,
      TRAFFIC_ADDR: `127.0.0.1:${port}`,
      TRAFFIC_RPS: String(opts.rps ?? 10),
      ...(opts.extraSelector ? { TRAFFIC_EXTRA_SELECTOR: opts.extraSelector } : {}),
    },
    logFile: join(opts.stateDir, 'logs', 'traffic.log'),
  });
  try {
    await waitFor(
      'traffic helper /healthz',
      async () => {
        if (!proc.isRunning()) throw Object.assign(new Error(`traffic helper exited (see ${proc.logFile})`), { fatal: true });
        const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
        return r.ok;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
  } catch (err) {
    await proc.stop();
    throw err;
  }
  log('traffic', `helper ready on ${url}`);
  return { ...trafficClient(url), process: proc, stop: () => proc.stop() };
}
