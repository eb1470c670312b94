// Alerting parts: a webhook receiver (e2e/webhook/server.ts, own process) that
// records what it is sent, and Debian's prometheus-alertmanager on loopback
// routing every alert to that receiver at path /alertmanager.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, log, nodeBin, repoRoot, startProcess, type ManagedProcess } from './proc.ts';
import type { Recorded } from '../webhook/server.ts';
import { waitFor } from './wait.ts';

/** A request the receiver recorded; `json` is loosely typed so scenarios can read into it. */
export type RecordedRequest = Omit<Recorded, 'json'> & { json?: any };

/** The requests the receiver answered with 2xx (what the sender may record as delivered). */
export const acknowledged = (rs: RecordedRequest[]): RecordedRequest[] => rs.filter((r) => r.status >= 200 && r.status < 300);

/** A NotificationPolicy named `team` that sends `triggers` to one unsigned webhook channel at `url`. */
export function webhookPolicy(url: string, triggers: string[]): Record<string, unknown> {
  return {
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'NotificationPolicy',
    metadata: { name: 'team' },
    spec: { channels: [{ name: 'hook', type: 'webhook', url }], routes: [{ triggers, channels: ['hook'] }] },
  };
}

/** Client for a running webhook receiver. */
export interface WebhookClient {
  /** http://127.0.0.1:PORT — post to any path under it. */
  url: string;
  /** Recorded requests (optionally only those to `path`), oldest first. */
  requests(path?: string): Promise<RecordedRequest[]>;
  clear(): Promise<void>;
  /** The next `count` requests to `path` get HTTP `status`. */
  failNext(path: string, status?: number, count?: number): Promise<void>;
  /** The next `count` requests to `path` are recorded (status 0) but not answered until release(path); -1 if the sender left first. */
  holdNext(path: string, count?: number): Promise<void>;
  release(path: string): Promise<void>;
}

export interface WebhookHandle extends WebhookClient {
  process: ManagedProcess;
  stop(): Promise<void>;
}

export function webhookClient(url: string): WebhookClient {
  const call = async (path: string, method: string) => {
    const r = await fetch(`${url}${path}`, { method, signal: AbortSignal.timeout(5000) });
    if (!r.ok) throw new Error(`${method} ${url}${path}: HTTP ${r.status}`);
    return r.json();
  };
  return {
    url,
    requests: (path) => call(`/_requests${path ? `?${new URLSearchParams({ path })}` : ''}`, 'GET') as Promise<RecordedRequest[]>,
    clear: async () => void (await call('/_requests', 'DELETE')),
    failNext: async (path, status = 500, count = 1) =>
      void (await call(`/_fail?${new URLSearchParams({ path, status: String(status), count: String(count) })}`, 'POST')),
    holdNext: async (path, count = 1) => void (await call(`/_hold?${new URLSearchParams({ path, count: String(count) })}`, 'POST')),
    release: async (path) => void (await call(`/_release?${new URLSearchParams({ path })}`, 'POST')),
  };
}

export async function startWebhookReceiver(opts: { stateDir: string }): Promise<WebhookHandle> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = startProcess({
    name: 'webhook',
    cmd: nodeBin,
    args: [join(repoRoot, 'e2e', 'webhook', 'server.ts')],
    env: { ...process.env, WEBHOOK_ADDR: `127.0.0.1:${port}` },
    logFile: join(opts.stateDir, 'logs', 'webhook.log'),
  });
  try {
    await waitFor(
      'webhook receiver /healthz',
      async () => {
        if (!proc.isRunning()) throw new Error(`webhook receiver exited (see ${proc.logFile})`);
        return (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })).ok;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
  } catch (err) {
    await proc.stop();
    throw err;
  }
  log('webhook', `receiver ready on ${url}`);
  return { ...webhookClient(url), process: proc, stop: () => proc.stop() };
}

/** Client for Alertmanager's v2 API. */
export interface AlertmanagerClient {
  url: string;
  /** GET /api/v2/alerts (active, silenced and inhibited). */
  alerts(): Promise<Array<{ labels: Record<string, string>; annotations: Record<string, string>; status: { state: string } }>>;
}

export interface AlertmanagerHandle extends AlertmanagerClient {
  /** host:port, for Prometheus' alerting config. */
  target: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export function alertmanagerClient(url: string): AlertmanagerClient {
  return {
    url,
    async alerts() {
      const r = await fetch(`${url}/api/v2/alerts`, { signal: AbortSignal.timeout(5000) });
      if (!r.ok) throw new Error(`alertmanager alerts: HTTP ${r.status}`);
      return r.json() as Promise<any>;
    },
  };
}

export async function startAlertmanager(opts: { stateDir: string; webhookUrl: string }): Promise<AlertmanagerHandle> {
  const dir = join(opts.stateDir, 'alertmanager');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const configFile = join(dir, 'alertmanager.yml');
  writeFileSync(
    configFile,
    `# written by e2e/harness/alerts.ts
route:
  receiver: e2e-webhook
  group_by: ['alertname', 'namespace', 'rollout']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: e2e-webhook
    webhook_configs:
      - url: ${JSON.stringify(`${opts.webhookUrl}/alertmanager`)}
        send_resolved: true
`,
  );
  const proc = startProcess({
    name: 'alertmanager',
    cmd: 'prometheus-alertmanager',
    args: [
      `--config.file=${configFile}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // no gossip cluster: it would listen on 0.0.0.0:9094
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    logFile: join(opts.stateDir, 'logs', 'alertmanager.log'),
  });
  try {
    await waitFor(
      'alertmanager /-/ready',
      async () => {
        if (!proc.isRunning()) throw new Error(`alertmanager exited (see ${proc.logFile})`);
        return (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  } catch (err) {
    await proc.stop();
    throw err;
  }
  log('alertmanager', `ready on ${url} (routes to ${opts.webhookUrl}/alertmanager)`);
  return { ...alertmanagerClient(url), target: `127.0.0.1:${port}`, process: proc, stop: () => proc.stop() };
}
