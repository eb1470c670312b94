// Runs a program without a shell, with a deadline: on timeout the whole process group is
// killed (git starts helpers such as git-remote-https and ssh, which must die with it).
import { spawn } from 'node:child_process';
import { setLongTimeout } from '../../ports/clock.ts';

export interface RunOptions {
  cwd?: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  input?: Buffer | string;
  /** Output beyond this many bytes kills the process (protects memory). */
  maxStdoutBytes?: number;
  /** Aborting kills the process group (e.g. a repository growing past its size limit). */
  signal?: AbortSignal;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  timedOut: boolean;
  outputTooLarge: boolean;
  /** Killed because `signal` was aborted. */
  aborted: boolean;
}

const MAX_STDERR = 64 * 1024;

export function run(program: string, args: string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      cwd: opts.cwd,
      env: opts.env,
      detached: true, // its own process group, so a timeout can kill helpers too
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    let timedOut = false;
    let outputTooLarge = false;
    let aborted = false;
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const cancelTimer = setLongTimeout(opts.timeoutMs, () => {
      timedOut = true;
      killGroup();
    });
    const onAbort = () => {
      aborted = true;
      killGroup();
    };
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout?.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (opts.maxStdoutBytes !== undefined && outBytes > opts.maxStdoutBytes) {
        outputTooLarge = true;
        killGroup();
        return;
      }
      out.push(chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      if (err.length < MAX_STDERR) err += chunk.toString('utf8');
    });
    child.on('error', (e) => {
      cancelTimer();
      opts.signal?.removeEventListener('abort', onAbort);
      reject(e);
    });
    child.on('close', (code, signal) => {
      cancelTimer();
      opts.signal?.removeEventListener('abort', onAbort);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: err, timedOut, outputTooLarge, aborted });
    });
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on('error', () => {}); // the process may exit before reading everything
      child.stdin.end(opts.input);
    }
  });
}
