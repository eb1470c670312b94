// What a plugin command may touch: its output streams, the environment, the clock and the
// cluster connection. main() gets the real ones; tests pass fakes (a FakeKube, a fixed clock).
import type { KubeClient } from '../ports/kube.ts';

/** Exit codes of every command (documented in docs/plugin.md). */
export const EXIT = {
  ok: 0,
  /** Degraded or aborted, an action refused, a failed sync, lint or convert problems. */
  failed: 1,
  /** --timeout passed before the rollout or sync finished. */
  timeout: 2,
  /** A usage error, or the cluster cannot be reached or refuses us. */
  usage: 3,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export interface OutStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** kubectl's connection flags. */
export interface KubeFlags {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  namespace?: string | undefined;
}

export interface Connection {
  kube: KubeClient;
  /** -n, else the kubeconfig context's namespace, else "default". */
  namespace: string;
  /** The API server's URL, for messages. */
  server: string;
}

export interface CliIo {
  stdout: OutStream;
  stderr: OutStream;
  env: Readonly<Record<string, string | undefined>>;
  now(): Date;
  connect(flags: KubeFlags): Promise<Connection>;
  /** Aborted on Ctrl-C: watches stop and their commands return. */
  signal?: AbortSignal;
  /** All of standard input, for `-f -`. */
  readStdin?(): Promise<string>;
  /** GET a URL (the controller's metrics for `version --metrics-url`). */
  fetchText?(url: string): Promise<string>;
}

/** An error a person can act on; the message is printed on stderr and the command exits with `exitCode`. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode = EXIT.failed) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export const usageError = (message: string) => new CliError(message, EXIT.usage);
