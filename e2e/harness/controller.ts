// The Sluice controller under test, as its own process: `node src/main.ts` with
// the harness kubeconfig, metrics and health on free loopback ports, debug logs to
// a file. Resilience scenarios can kill it (SIGKILL) and restart it.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, log, nodeBin, repoRoot, startProcess, tailFile, type ManagedProcess } from './proc.ts';
import { waitFor } from './wait.ts';

export const CONTROLLER_ENTRY = join(repoRoot, 'src', 'main.ts');

/** True when src/main.ts exists (the controller may not be written yet). */
export function controllerAvailable(): boolean {
  return existsSync(CONTROLLER_ENTRY);
}

export interface ControllerOptions {
  /** The identity it runs as: the harness admin's, or e.g. a ServiceAccount token's (harness/chart.ts). */
  kubeconfig: string;
  /** Logs go to `${stateDir}/logs/${name}.log`. */
  stateDir: string;
  /** Distinguishes several replicas (default "controller"). */
  name?: string;
  /** Extra environment (e.g. SLUICE_LEADER_ELECTION=…). */
  env?: NodeJS.ProcessEnv;
  /** Extra command-line arguments for src/main.ts. */
  args?: string[];
  /** Script to run instead of src/main.ts (e.g. a stand-in while testing the harness). */
  entry?: string;
  /** Wait until the health endpoint answers (default true). */
  waitReady?: boolean;
  /** Path probed on the health address (default /healthz). */
  healthPath?: string;
  /** Deadline for readiness (default 30s). */
  readyTimeoutMs?: number;
  /** Called with host:port of the metrics endpoint after every (re)start, e.g. to register it with Prometheus. */
  onMetricsAddr?: (hostPort: string) => void;
}

export interface ControllerHandle {
  name: string;
  logFile: string;
  /** 127.0.0.1:PORT of SLUICE_METRICS_ADDR */
  metricsAddr: string;
  /** 127.0.0.1:PORT of SLUICE_HEALTH_ADDR */
  healthAddr: string;
  metricsUrl: string;
  healthUrl: string;
  pid(): number;
  isRunning(): boolean;
  /** Resolves with the exit code or signal of the current process. */
  exited(): Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs` (default 10s). */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once (crash simulation). */
  kill(): Promise<void>;
  /** Stops it if running (SIGTERM, or SIGKILL when `hard`) and starts it again on the same ports; log appended. */
  restart(opts?: { hard?: boolean }): Promise<void>;
  /** Waits until the health endpoint answers 200. */
  waitReady(timeoutMs?: number): Promise<void>;
  /** Last lines of the log. */
  logTail(lines?: number): string;
  /** GET of the metrics endpoint (text exposition). */
  metrics(): Promise<string>;
  /** Log lines where the API server refused a request (403 Forbidden): a permission the identity lacks. */
  forbidden(): string[];
}

/** Lines of a controller log that report a refused request (the API server's 403 Forbidden). */
export function forbiddenLines(logText: string): string[] {
  return logText.split('\n').filter((l) => /: 403 |\b[Ff]orbidden\b/.test(l));
}

export async function startController(opts: ControllerOptions): Promise<ControllerHandle> {
  const entry = opts.entry ?? CONTROLLER_ENTRY;
  if (!existsSync(entry)) {
    throw new Error(`${entry} does not exist (yet): the controller cannot be started`);
  }
  const name = opts.name ?? 'controller';
  const logDir = join(opts.stateDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${name}.log`);
  const metricsAddr = `127.0.0.1:${await freePort()}`;
  const healthAddr = `127.0.0.1:${await freePort()}`;
  const healthUrl = `http://${healthAddr}${opts.healthPath ?? '/healthz'}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KUBECONFIG: opts.kubeconfig,
    SLUICE_METRICS_ADDR: metricsAddr,
    SLUICE_HEALTH_ADDR: healthAddr,
    SLUICE_LOG_LEVEL: 'debug',
    ...opts.env,
  };
  let proc: ManagedProcess;
  let starts = 0;
  const spawnIt = () => {
    starts++;
    proc = startProcess({
      name,
      cmd: nodeBin,
      args: [entry, ...(opts.args ?? [])],
      env,
      logFile,
      append: starts > 1,
    });
    log(name, `started pid ${proc.pid} (log ${logFile})`);
    opts.onMetricsAddr?.(metricsAddr);
  };
  const waitReady = async (timeoutMs = opts.readyTimeoutMs ?? 30_000) => {
    const p = proc;
    await waitFor(
      `${name} ${healthUrl}`,
      async () => {
        if (!p.isRunning()) {
          throw Object.assign(new Error(`${name} exited (${await p.exited}); log tail:\n${tailFile(logFile, 30)}`), {
            fatal: true,
          });
        }
        const r = await fetch(healthUrl, { signal: AbortSignal.timeout(1000) });
        return r.ok;
      },
      { timeoutMs, intervalMs: 200 },
    ).catch((err: Error & { lastError?: Error }) => {
      throw new Error(`${err.message}\n${name} log tail (${logFile}):\n${tailFile(logFile, 30)}`);
    });
  };
  spawnIt();
  if (opts.waitReady ?? true) {
    try {
      await waitReady();
    } catch (err) {
      await proc!.stop(2000);
      throw err;
    }
  }
  const handle: ControllerHandle = {
    name,
    logFile,
    metricsAddr,
    healthAddr,
    metricsUrl: `http://${metricsAddr}/metrics`,
    healthUrl,
    pid: () => proc.pid,
    isRunning: () => proc.isRunning(),
    exited: () => proc.exited,
    async stop(graceMs = 10_000) {
      await proc.stop(graceMs);
    },
    async kill() {
      log(name, `SIGKILL pid ${proc.pid}`);
      await proc.kill();
    },
    async restart(o = {}) {
      if (proc.isRunning()) {
        if (o.hard) await handle.kill();
        else await proc.stop(10_000);
      }
      spawnIt();
      if (opts.waitReady ?? true) await waitReady();
    },
    waitReady,
    logTail: (lines = 50) => tailFile(logFile, lines),
    async metrics() {
      const r = await fetch(handle.metricsUrl, { signal: AbortSignal.timeout(5000) });
      return r.text();
    },
    forbidden: () => (existsSync(logFile) ? forbiddenLines(readFileSync(logFile, 'utf8')) : []),
  };
  return handle;
}
