// Debian's Prometheus on a free loopback port: 1s scrape and evaluation interval,
// storage in the state dir, scraping the traffic helper. Extra scrape targets,
// rule files and Alertmanagers are picked up from directories (file_sd and
// rule_files globs), so scenarios can add them at runtime.
import { mkdirSync, renameSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, log, startProcess, type ManagedProcess } from './proc.ts';
import { waitFor } from './wait.ts';

export interface PromSample {
  metric: Record<string, string>;
  /** Instant vector: [unixSeconds, "value"]. */
  value?: [number, string];
  /** Range vector (matrix): samples. */
  values?: Array<[number, string]>;
}

export interface PromQueryData {
  resultType: 'vector' | 'matrix' | 'scalar' | 'string';
  result: PromSample[] | [number, string];
}

/** Client for a Prometheus HTTP API (usable from scenarios through the descriptor's url). */
export interface PromClient {
  url: string;
  /** Instant query; throws when Prometheus reports an error. */
  query(promql: string): Promise<PromQueryData>;
  /** Instant query as plain numbers: one per series of a vector, or the scalar. */
  values(promql: string): Promise<number[]>;
  /** Health of the scrape targets (job, instance, health, lastError). */
  targets(): Promise<Array<{ job: string; instance: string; health: string; lastError: string }>>;
  /** Asks Prometheus to reload its configuration and rule files. */
  reload(): Promise<void>;
}

export interface PrometheusOptions {
  stateDir: string;
  /** host:port targets scraped as job "traffic" (the traffic helper). */
  trafficTargets: string[];
  /** Use this port instead of a free one. */
  port?: number;
}

export interface PrometheusHandle extends PromClient {
  port: number;
  /** Drop `<name>.json` here in file_sd format to add scrape targets (see addTarget). */
  targetsDir: string;
  /** `*.yml` / `*.yaml` rule files here are loaded (after reload()). */
  rulesDir: string;
  /** file_sd files listing Alertmanagers (see addAlertmanager). */
  alertmanagersDir: string;
  process(): ManagedProcess;
  /** Adds (or replaces) a scrape target under job `job`. */
  addTarget(job: string, hostPort: string, labels?: Record<string, string>): void;
  removeTarget(job: string): void;
  /** Points Prometheus' alerting at an Alertmanager (host:port). */
  addAlertmanager(name: string, hostPort: string): void;
  /** Stops Prometheus (keeps its data), e.g. for "Prometheus unreachable" scenarios. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data; waits until ready. */
  start(): Promise<void>;
  isRunning(): boolean;
}

export function promClient(url: string): PromClient {
  const api = async (path: string, init?: RequestInit) => {
    const r = await fetch(`${url}${path}`, { ...init, signal: AbortSignal.timeout(10_000) });
    const body = (await r.json()) as { status: string; data: any; error?: string; errorType?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.errorType}: ${body.error}`);
    return body.data;
  };
  const client: PromClient = {
    url,
    query: (promql) => api(`/api/v1/query?${new URLSearchParams({ query: promql })}`),
    async values(promql) {
      const d = await client.query(promql);
      if (d.resultType === 'scalar') return [Number((d.result as [number, string])[1])];
      if (d.resultType === 'vector') return (d.result as PromSample[]).map((s) => Number(s.value?.[1]));
      if (d.resultType === 'matrix') return (d.result as PromSample[]).flatMap((s) => (s.values ?? []).map((v) => Number(v[1])));
      throw new Error(`unsupported result type ${d.resultType}`);
    },
    async targets() {
      const d = await api('/api/v1/targets?state=active');
      return (d.activeTargets as Array<{ labels: Record<string, string>; health: string; lastError: string }>).map((t) => ({
        job: t.labels.job ?? '',
        instance: t.labels.instance ?? '',
        health: t.health,
        lastError: t.lastError,
      }));
    },
    async reload() {
      const r = await fetch(`${url}/-/reload`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
      if (!r.ok) throw new Error(`prometheus reload: HTTP ${r.status}: ${await r.text()}`);
    },
  };
  return client;
}

/** Adds (or replaces) file_sd target `<job>.json` in a Prometheus targets dir. */
export function writeScrapeTarget(targetsDir: string, job: string, hostPort: string, labels: Record<string, string> = {}): void {
  const tmp = join(targetsDir, `.${job}.json.tmp`);
  writeFileSync(tmp, JSON.stringify([{ targets: [hostPort], labels: { job, ...labels } }], null, 2));
  // rename: Prometheus never reads a half-written file
  renameSync(tmp, join(targetsDir, `${job}.json`));
}

export function removeScrapeTarget(targetsDir: string, job: string): void {
  rmSync(join(targetsDir, `${job}.json`), { force: true });
}

export async function startPrometheus(opts: PrometheusOptions): Promise<PrometheusHandle> {
  const dir = join(opts.stateDir, 'prometheus');
  const targetsDir = join(dir, 'targets');
  const rulesDir = join(dir, 'rules');
  const alertmanagersDir = join(dir, 'alertmanagers');
  for (const d of [dir, targetsDir, rulesDir, alertmanagersDir]) mkdirSync(d, { recursive: true });
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const configFile = join(dir, 'prometheus.yml');
  const q = (s: string) => JSON.stringify(s);
  writeFileSync(
    configFile,
    `# written by e2e/harness/prometheus.ts
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - ${q(join(rulesDir, '*.yml'))}
  - ${q(join(rulesDir, '*.yaml'))}
alerting:
  alertmanagers:
    - file_sd_configs:
        - files: [${q(join(alertmanagersDir, '*.json'))}]
          refresh_interval: 1s
scrape_configs:
  - job_name: traffic
    honor_labels: true
    static_configs:
      - targets: [${opts.trafficTargets.map(q).join(', ')}]
  - job_name: file_sd
    honor_labels: true
    file_sd_configs:
      - files: [${q(join(targetsDir, '*.json'))}]
        refresh_interval: 1s
`,
  );
  const args = [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--web.enable-lifecycle',
    '--storage.tsdb.retention.time=6h',
    // re-send firing alerts every second (default 1m): a first send that found no
    // Alertmanager yet is retried at once
    '--rules.alert.resend-delay=1s',
    '--log.level=warn',
  ];
  const logFile = join(opts.stateDir, 'logs', 'prometheus.log');
  let proc: ManagedProcess | undefined;
  const client = promClient(url);

  const start = async (append: boolean) => {
    const p = startProcess({ name: 'prometheus', cmd: 'prometheus', args, logFile, append });
    proc = p;
    await waitFor(
      'prometheus /-/ready',
      async () => {
        if (!p.isRunning()) throw new Error(`prometheus exited (see ${logFile})`);
        const r = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
        return r.ok;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  };
  await start(false);
  log('prometheus', `ready on ${url}`);

  return {
    ...client,
    port,
    targetsDir,
    rulesDir,
    alertmanagersDir,
    process: () => proc!,
    addTarget: (job, hostPort, labels = {}) => writeScrapeTarget(targetsDir, job, hostPort, labels),
    removeTarget: (job) => removeScrapeTarget(targetsDir, job),
    addAlertmanager(name, hostPort) {
      const tmp = join(alertmanagersDir, `.${name}.json.tmp`);
      writeFileSync(tmp, JSON.stringify([{ targets: [hostPort] }], null, 2));
      renameSync(tmp, join(alertmanagersDir, `${name}.json`));
    },
    async stop() {
      await proc?.stop(5000);
    },
    async start() {
      if (proc?.isRunning()) return;
      await start(true);
      log('prometheus', `restarted on ${url}`);
    },
    isRunning: () => Boolean(proc?.isRunning()),
  };
}
