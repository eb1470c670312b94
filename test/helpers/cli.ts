// Helpers for the plugin's tests: an in-memory IO (streams captured, a fixed clock, a given
// kube client), and a read-only kube client over recorded objects (as `kubectl get -o json`
// printed them on the e2e cluster), which keeps their uids, owner references and timestamps.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CliIo, Connection, KubeFlags } from '../../src/cli/io.ts';
import { main } from '../../src/cli/program.ts';
import { KubeError, type Informer, type KubeClient, type KubeObject, type ResourceKind } from '../../src/ports/kube.ts';

export const TESTDATA = join(import.meta.dirname, '..', '..', 'src', 'cli', 'testdata');

export interface Recorded {
  recordedAt: string;
  rollout: KubeObject;
  replicaSets: KubeObject[];
  pods: KubeObject[];
  analysisRuns: KubeObject[];
}

export function loadRecorded(name: string): Recorded {
  return JSON.parse(readFileSync(join(TESTDATA, 'recorded', `${name}.json`), 'utf8')) as Recorded;
}

const matches = (o: KubeObject, selector: string | undefined) =>
  (selector ?? '')
    .split(',')
    .filter(Boolean)
    .every((term) => {
      const [k, v] = term.split('=');
      return o.metadata?.labels?.[k as string] === v;
    });

/** Answers get and list from the objects given; writes are refused (these tests only read). */
export class RecordedKube implements KubeClient {
  private readonly objects: KubeObject[];
  constructor(objects: KubeObject[]) {
    this.objects = objects;
  }
  private of(kind: ResourceKind, namespace?: string): KubeObject[] {
    return this.objects.filter((o) => o.kind === kind.kind && (namespace === undefined || !kind.namespaced || o.metadata?.namespace === namespace));
  }
  async get<T extends KubeObject>(kind: ResourceKind, namespace: string | undefined, name: string): Promise<T | undefined> {
    return structuredClone(this.of(kind, namespace).find((o) => o.metadata?.name === name)) as T | undefined;
  }
  async list<T extends KubeObject>(kind: ResourceKind, namespace?: string, labelSelector?: string): Promise<T[]> {
    return structuredClone(this.of(kind, namespace).filter((o) => matches(o, labelSelector))) as T[];
  }
  async create<T extends KubeObject>(): Promise<T> {
    throw new KubeError(405, 'MethodNotAllowed', 'recorded objects are read-only');
  }
  async patch<T extends KubeObject>(): Promise<T> {
    throw new KubeError(405, 'MethodNotAllowed', 'recorded objects are read-only');
  }
  async delete(): Promise<void> {
    throw new KubeError(405, 'MethodNotAllowed', 'recorded objects are read-only');
  }
  async evict(): Promise<void> {
    throw new KubeError(405, 'MethodNotAllowed', 'recorded objects are read-only');
  }
  informer<T extends KubeObject>(): Informer<T> {
    throw new Error('recorded objects cannot be watched');
  }
  async resolveKind(): Promise<ResourceKind | undefined> {
    return undefined;
  }
}

export interface Captured {
  io: CliIo;
  stdout(): string;
  stderr(): string;
  /** The flags each connect() was called with. */
  connections: KubeFlags[];
}

export function captureIo(
  opts: {
    kube?: KubeClient;
    now?: Date | (() => Date);
    tty?: boolean;
    env?: Record<string, string>;
    namespace?: string;
    signal?: AbortSignal;
    stdin?: string;
  } = {},
): Captured {
  let out = '';
  let err = '';
  const connections: KubeFlags[] = [];
  const now = opts.now;
  const io: CliIo = {
    stdout: { write: (s: string) => (out += s), isTTY: opts.tty ?? false, columns: 200 },
    stderr: { write: (s: string) => (err += s), isTTY: false },
    env: opts.env ?? {},
    now: () => (typeof now === 'function' ? now() : (now ?? new Date())),
    connect: async (flags: KubeFlags): Promise<Connection> => {
      connections.push(flags);
      if (!opts.kube) throw new Error('this test has no cluster');
      return { kube: opts.kube, namespace: flags.namespace ?? opts.namespace ?? 'default', server: 'https://127.0.0.1:6443' };
    },
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.stdin !== undefined ? { readStdin: async () => opts.stdin as string } : {}),
    fetchText: async (url: string) => {
      throw new Error(`no network in tests (${url})`);
    },
  };
  return { io, stdout: () => out, stderr: () => err, connections };
}

/** Runs a command line; returns its exit code and what it printed. */
export async function run(argv: string[], opts: Parameters<typeof captureIo>[0] = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const c = captureIo(opts);
  const code = await main(argv, c.io);
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}

/** Polls `fn` until it holds; fails after the deadline with the last error. */
export async function eventually(what: string, fn: () => void, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      fn();
      return;
    } catch (err) {
      if (Date.now() > end) throw new Error(`${what}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
