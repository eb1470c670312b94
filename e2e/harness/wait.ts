// Polling with a deadline, and diagnostics for failed scenarios.
import { inspect } from 'node:util';
import { kubectlEnv } from './kubectl.ts';
import { run, tailFile } from './proc.ts';

export interface WaitOptions<T> {
  /** Give up after this long (default 30s). */
  timeoutMs?: number;
  /** Pause between attempts (default 250ms). */
  intervalMs?: number;
  /** Done when this returns true (default: the value is truthy). */
  until?: (value: T) => boolean;
}

export class WaitTimeoutError extends Error {
  readonly lastValue: unknown;
  readonly lastError: unknown;
  constructor(message: string, lastValue: unknown, lastError: unknown) {
    super(message);
    this.name = 'WaitTimeoutError';
    this.lastValue = lastValue;
    this.lastError = lastError;
  }
}

function show(v: unknown): string {
  if (typeof v === 'string') return v.length > 2000 ? `${v.slice(0, 2000)}…` : v;
  const s = inspect(v, { depth: 6, breakLength: 120 });
  return s.length > 2000 ? `${s.slice(0, 2000)}…` : s;
}

/**
 * Calls `fn` until it is done, or throws after `timeoutMs` with the last observed
 * value (or the last error `fn` threw) in the message. `fn` is "not done yet" when
 * it throws (so assertions can be used inside it), when it returns a falsy value,
 * or when `until(value)` is false. Resolves with the final value.
 *
 *   const rs = await waitFor('canary RS ready', async () => {
 *     const r = await kubectlJson(['get', 'rs', name]);
 *     assert.equal(r.status.readyReplicas, 2);
 *     return r;
 *   }, { timeoutMs: 60_000 });
 */
export async function waitFor<T>(describe: string, fn: () => T | Promise<T>, opts: WaitOptions<T> = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const intervalMs = opts.intervalMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  let attempts = 0;
  let lastValue: unknown = '(no value yet)';
  let lastError: unknown = undefined;
  for (;;) {
    attempts++;
    try {
      const v = await fn();
      lastValue = v;
      lastError = undefined;
      const done = opts.until ? opts.until(v) : Boolean(v);
      if (done) return v;
    } catch (err) {
      lastError = err;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      const detail =
        lastError !== undefined ? `last error: ${lastError instanceof Error ? lastError.message : show(lastError)}` : `last value: ${show(lastValue)}`;
      throw new WaitTimeoutError(
        `timed out after ${(timeoutMs / 1000).toFixed(1)}s (${attempts} attempts) waiting for ${describe}; ${detail}`,
        lastValue,
        lastError,
      );
    }
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, left)));
  }
}

export interface DiagnosticsOptions {
  kubeconfig: string;
  /** Limit namespaced listings to this namespace (default: all namespaces). */
  namespace?: string;
  /** Controller log file(s) whose tail is included. */
  logFiles?: string[];
  logLines?: number;
}

/**
 * A plain-text dump for a failed scenario: workloads, Sluice resources, pods with
 * nodes, recent events, and the tail of the controller log(s).
 */
export async function collectDiagnostics(opts: DiagnosticsOptions): Promise<string> {
  const env = kubectlEnv(opts.kubeconfig);
  const ns = opts.namespace ? ['-n', opts.namespace] : ['-A'];
  const parts: string[] = [];
  const section = async (title: string, args: string[]) => {
    const r = await run('kubectl', args, { env, timeoutMs: 15_000 });
    parts.push(`----- ${title} (kubectl ${args.join(' ')}) -----\n${(r.stdout + r.stderr).trim()}`);
  };
  const kinds = await run('kubectl', ['api-resources', '--api-group=sluice.dev', '-o', 'name'], {
    env,
    timeoutMs: 15_000,
  });
  const sluiceKinds = kinds.stdout.split('\n').filter(Boolean).join(',');
  await section('workloads', ['get', 'all', ...ns, '-o', 'wide']);
  if (sluiceKinds) await section('sluice resources', ['get', sluiceKinds, ...ns, '-o', 'wide']);
  if (sluiceKinds) await section('sluice resources (yaml)', ['get', sluiceKinds, ...ns, '-o', 'yaml']);
  await section('replicasets (yaml)', ['get', 'rs', ...ns, '-o', 'yaml']);
  await section('events', ['get', 'events', ...ns, '--sort-by=.lastTimestamp']);
  await section('nodes', ['get', 'nodes', '-o', 'wide']);
  for (const f of opts.logFiles ?? []) {
    parts.push(`----- tail of ${f} -----\n${tailFile(f, opts.logLines ?? 80)}`);
  }
  return parts.join('\n');
}

/**
 * Runs `fn`; when it throws, prints diagnostics to stderr and rethrows.
 *
 *   await withDiagnostics({ kubeconfig, namespace: ns, logFiles: [ctl.logFile] }, async () => { ... });
 */
export async function withDiagnostics<T>(opts: DiagnosticsOptions, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    try {
      const dump = await collectDiagnostics(opts);
      process.stderr.write(`\n===== diagnostics =====\n${dump}\n===== end of diagnostics =====\n`);
    } catch (e) {
      process.stderr.write(`(could not collect diagnostics: ${(e as Error).message})\n`);
    }
    throw err;
  }
}
