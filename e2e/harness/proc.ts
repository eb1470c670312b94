// Process plumbing shared by every part of the harness: free loopback ports,
// children started in their own process group (so the whole group can be
// stopped), a registry that stops every child on exit, SIGINT and SIGTERM, and a
// reaper that kills the groups if this process itself dies without cleaning up.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { openSync, closeSync, writeFileSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root of the repository (e2e/harness/../..). */
export const repoRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Node 24 binary that runs this harness (the system `node` may be older). */
export const nodeBin: string = process.execPath;

const started = Date.now();

/** One progress line on stderr: `[e2e +12.3s] part: message`. */
export function log(part: string, message: string): void {
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  process.stderr.write(`[e2e +${secs}s] ${part}: ${message}\n`);
}

const handedOut = new Set<number>();

/** A free TCP port on 127.0.0.1 (never the same one twice in this process). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await new Promise<number>((res, rej) => {
      const srv = createServer();
      srv.unref();
      srv.on('error', rej);
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        const p = typeof addr === 'object' && addr ? addr.port : 0;
        srv.close(() => res(p));
      });
    });
    if (port && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('could not find a free port on 127.0.0.1');
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** Process group id (== pid: every child leads its own group). */
  readonly pgid: number;
  readonly logFile: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) when the process exits. */
  readonly exited: Promise<number | string>;
  isRunning(): boolean;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL to the group at once. */
  kill(): Promise<void>;
}

export interface StartOptions {
  name: string;
  cmd: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Append to the log file instead of truncating it (used by restarts). */
  append?: boolean;
}

const registry = new Map<number, ManagedProcess>();
let reaperStarted = false;
let reaperFile = '';
let handlersInstalled = false;

function writeReaperFile(): void {
  if (!reaperFile) return;
  try {
    writeFileSync(reaperFile, [...registry.keys()].join('\n') + '\n');
  } catch {
    // the state dir may be gone during teardown
  }
}

/**
 * A detached shell that waits for this process to disappear and then SIGKILLs the
 * process groups still listed in its file. It covers the case where this process
 * is killed with SIGKILL and cannot run its own cleanup. The file is rewritten on
 * every start/stop, so only groups that are still ours are ever signalled.
 */
function ensureReaper(): void {
  if (reaperStarted) return;
  reaperStarted = true;
  const dir = join(tmpdir(), 'sluice-e2e-reapers');
  mkdirSync(dir, { recursive: true });
  reaperFile = join(dir, `owner-${process.pid}.pgids`);
  writeFileSync(reaperFile, '');
  const script =
    `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ` +
    `[ -f "$1" ] && for g in $(cat "$1"); do kill -KILL -- "-$g" 2>/dev/null; done; rm -f "$1"`;
  const reaper = spawn('/bin/bash', ['-c', script, 'sluice-e2e-reaper', reaperFile], {
    detached: true,
    stdio: 'ignore',
  });
  reaper.unref();
}

const shutdownHooks: Array<() => Promise<void> | void> = [];
let shuttingDown = false;

/**
 * Registers a hook run (latest first) when this process gets SIGINT or SIGTERM,
 * before every registered child is stopped. Used e.g. by the runner to stop the
 * test process before tearing the environment down.
 */
export function onShutdown(fn: () => Promise<void> | void): void {
  installHandlers();
  shutdownHooks.push(fn);
}

async function shutdown(sig: NodeJS.Signals): Promise<void> {
  if (shuttingDown) {
    // second Ctrl-C: no more patience
    for (const p of registry.values()) signalGroup(p.pgid, 'SIGKILL');
    process.exit(sig === 'SIGINT' ? 130 : 143);
  }
  shuttingDown = true;
  log('harness', `${sig}: stopping everything this process started`);
  for (const fn of [...shutdownHooks].reverse()) {
    try {
      await fn();
    } catch (err) {
      log('harness', `shutdown hook failed: ${(err as Error).message}`);
    }
  }
  await stopAll(3000);
  process.exit(sig === 'SIGINT' ? 130 : 143);
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGHUP', () => void shutdown('SIGHUP'));
  // Last resort (normal exit, uncaught exception, process.exit): synchronous
  // SIGKILL of every group still registered.
  process.on('exit', () => {
    for (const p of registry.values()) signalGroup(p.pgid, 'SIGKILL');
    registry.clear();
    writeReaperFile();
  });
}

/** Stops every process this process started (reverse start order). */
export async function stopAll(graceMs = 5000): Promise<void> {
  const all = [...registry.values()].reverse();
  for (const p of all) await p.stop(graceMs);
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // group already gone
  }
}

/** Starts `cmd` in its own process group with stdout+stderr going to `logFile`. */
export function startProcess(opts: StartOptions): ManagedProcess {
  installHandlers();
  ensureReaper();
  mkdirSync(dirname(opts.logFile), { recursive: true });
  const fd = openSync(opts.logFile, opts.append ? 'a' : 'w');
  let child: ChildProcess;
  try {
    child = spawn(opts.cmd, opts.args, {
      cwd: opts.cwd ?? repoRoot,
      env: opts.env ?? process.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) {
    throw new Error(`${opts.name}: could not start ${opts.cmd} (see ${opts.logFile})`);
  }
  const pid = child.pid;
  let running = true;
  const exited = new Promise<number | string>((res) => {
    child.on('exit', (code, signal) => {
      running = false;
      // the group may still hold grandchildren; make sure they go too
      signalGroup(pid, 'SIGKILL');
      registry.delete(pid);
      writeReaperFile();
      res(code ?? signal ?? 'unknown');
    });
    child.on('error', (err) => {
      running = false;
      registry.delete(pid);
      writeReaperFile();
      res(`spawn error: ${err.message}`);
    });
  });
  const handle: ManagedProcess = {
    name: opts.name,
    pid,
    pgid: pid,
    logFile: opts.logFile,
    child,
    exited,
    isRunning: () => running,
    async stop(graceMs = 5000) {
      if (!running) return;
      signalGroup(pid, 'SIGTERM');
      const t = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    },
    async kill() {
      if (!running) return;
      signalGroup(pid, 'SIGKILL');
      await exited;
    },
  };
  registry.set(pid, handle);
  writeReaperFile();
  return handle;
}

/** Last `lines` lines of a log file ('' when it does not exist). */
export function tailFile(file: string, lines = 40): string {
  if (!existsSync(file)) return '';
  const text = readFileSync(file, 'utf8');
  return text
    .split('\n')
    .slice(-lines - 1)
    .join('\n');
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a short command to completion (async), capturing its output. */
export function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((res) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? repoRoot,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid) signalGroup(child.pid, 'SIGKILL');
    }, opts.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      res({ code: 127, stdout: '', stderr: `${cmd}: ${e.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8');
      res({
        code: code ?? 128,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: timedOut ? `${stderr}\n${cmd}: timed out after ${opts.timeoutMs ?? 60_000}ms` : signal ? `${stderr}\n${cmd}: killed by ${signal}` : stderr,
      });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** Like run() but throws with the command's stderr when it exits non-zero. */
export async function runOk(
  cmd: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}
