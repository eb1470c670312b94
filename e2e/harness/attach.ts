// For scenario files: attach to the environment the runner started, through the
// descriptor named by E2E_ENV. Everything a scenario needs hangs off the result.
//
//   import { attach } from './attach.ts';
//   const env = attach();
//   const ns = await env.kubectl.createNamespace('canary');
import { readFileSync } from 'node:fs';
import { createRepo, cloneRepo, type Repo, type WorkingCopy } from './git.ts';
import { makeKubectl, type Kubectl } from './kubectl.ts';
import { promClient, removeScrapeTarget, writeScrapeTarget, type PromClient } from './prometheus.ts';
import { trafficClient, type TrafficClient } from './traffic.ts';
import { controllerAvailable, startController, type ControllerHandle, type ControllerOptions } from './controller.ts';
import { collectDiagnostics, withDiagnostics } from './wait.ts';
import type { EnvDescriptor } from './env.ts';
import { alertmanagerClient, webhookClient, type AlertmanagerClient, type WebhookClient } from './alerts.ts';

export interface AttachedEnv {
  descriptor: EnvDescriptor;
  kubeconfig: string;
  kubectl: Kubectl;
  prom: PromClient;
  traffic: TrafficClient;
  /** Webhook receiver: point Sluice's notifications at `${webhook.url}/<path>`. */
  webhook: WebhookClient;
  alertmanager: AlertmanagerClient;
  git: {
    /** Base URL of the git HTTP server. */
    url: string;
    createRepo(name: string, opts?: { files?: Record<string, string>; message?: string }): Promise<Repo>;
    clone(repo: Repo, opts?: { via?: 'http' | 'file'; dir?: string }): Promise<WorkingCopy>;
  };
  /** True when src/main.ts exists. */
  controllerAvailable(): boolean;
  /**
   * Starts a Sluice controller process against this environment (stopped on exit
   * of the test process at the latest). Its metrics endpoint is registered with
   * Prometheus as job `sluice` (job `sluice-<name>` for a named replica). It runs with the
   * admin kubeconfig unless given another (e.g. the chart's ServiceAccount: harness/chart.ts).
   */
  startController(opts?: Partial<Omit<ControllerOptions, 'stateDir'>>): Promise<ControllerHandle>;
  /** Asks the env owner to restart kube-apiserver (local cluster only). */
  restartApiserver(): Promise<void>;
  /** Asks the env owner to stop / start Prometheus (same port and data on start). */
  stopPrometheus(): Promise<void>;
  startPrometheus(): Promise<void>;
  /** Diagnostics text (workloads, Sluice objects, events, log tails). */
  diagnostics(namespace?: string, logFiles?: string[]): Promise<string>;
  /** Runs fn; on failure prints diagnostics for `namespace` and the given logs, then rethrows. */
  withDiagnostics<T>(namespace: string | undefined, logFiles: string[], fn: () => Promise<T>): Promise<T>;
}

/** Reads the descriptor at E2E_ENV (or `path`). Throws with a hint when not set. */
export function readDescriptor(path = process.env.E2E_ENV): EnvDescriptor {
  if (!path) {
    throw new Error(
      'E2E_ENV is not set: run scenarios through `npm run e2e`, or start an environment with ' +
        '`node e2e/run.ts up` and set E2E_ENV to the descriptor path it prints',
    );
  }
  return JSON.parse(readFileSync(path, 'utf8')) as EnvDescriptor;
}

let cached: AttachedEnv | undefined;

export function attach(path?: string): AttachedEnv {
  if (cached && !path) return cached;
  const d = readDescriptor(path);
  const control = async (route: string) => {
    const r = await fetch(`${d.control.url}${route}`, { method: 'POST', signal: AbortSignal.timeout(120_000) });
    if (!r.ok) throw new Error(`control ${route}: HTTP ${r.status}: ${await r.text()}`);
  };
  const kubectl = makeKubectl(d.kubeconfig);
  const env: AttachedEnv = {
    descriptor: d,
    kubeconfig: d.kubeconfig,
    kubectl,
    prom: promClient(d.prometheus.url),
    traffic: trafficClient(d.traffic.url),
    webhook: webhookClient(d.webhook.url),
    alertmanager: alertmanagerClient(d.alertmanager.url),
    git: {
      url: d.git.url,
      createRepo: (name, opts) => createRepo(d.git, name, opts),
      clone: (repo, opts) => cloneRepo(d.git, repo, opts),
    },
    controllerAvailable,
    async startController(opts = {}) {
      const job = opts.name ? `sluice-${opts.name}` : 'sluice';
      const ctl = await startController({
        ...opts,
        kubeconfig: opts.kubeconfig ?? d.kubeconfig,
        stateDir: d.stateDir,
        onMetricsAddr: (addr) => {
          writeScrapeTarget(d.prometheus.targetsDir, job, addr, { replica: opts.name ?? 'controller' });
          opts.onMetricsAddr?.(addr);
        },
      });
      const stop = ctl.stop;
      ctl.stop = async (graceMs?: number) => {
        await stop(graceMs);
        removeScrapeTarget(d.prometheus.targetsDir, job);
      };
      return ctl;
    },
    restartApiserver: () => control('/apiserver/restart'),
    stopPrometheus: () => control('/prometheus/stop'),
    startPrometheus: () => control('/prometheus/start'),
    diagnostics: (namespace, logFiles) => collectDiagnostics({ kubeconfig: d.kubeconfig, namespace, logFiles }),
    withDiagnostics: (namespace, logFiles, fn) => withDiagnostics({ kubeconfig: d.kubeconfig, namespace, logFiles }, fn),
  };
  if (!path) cached = env;
  return env;
}
