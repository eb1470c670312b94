// The world of a GitSync reconcile for tests: the in-memory KubeClient fake (with discovery
// for ConfigMaps, Namespaces and HPAs), REAL git (a bare repository in a temp dir over
// file://), a fake clock, a captured log, and manifests as a team writes them.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { CliGitClient } from '../../src/adapters/git/cli.ts';
import type { GitSyncSpec, GitSyncStatus } from '../../src/api/git-sync.ts';
import type { GitSyncDeps } from '../../src/controller/gitsync/git-sync-reconciler.ts';
import { reconcileGitSyncByKey } from '../../src/controller/gitsync/git-sync-reconciler.ts';
import type { Clock } from '../../src/ports/clock.ts';
import { kinds, type KubeObject, type ResourceKind } from '../../src/ports/kube.ts';
import { FakeKube } from '../fakes/kube.ts';
import { TestRepo, tempDir } from './git-repos.ts';

export const configMapKind: ResourceKind = { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true };
const namespaceKind: ResourceKind = { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false };
export const hpaKind: ResourceKind = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', plural: 'horizontalpodautoscalers', namespaced: true };

/** The fake with discovery for the extra kinds these tests use. */
export class Cluster extends FakeKube {
  override async resolveKind(apiVersion: string, kind: string): Promise<ResourceKind | undefined> {
    return [configMapKind, namespaceKind, hpaKind].find((k) => k.apiVersion === apiVersion && k.kind === kind) ?? super.resolveKind(apiVersion, kind);
  }
}

class FakeClock implements Clock {
  current: Date;
  constructor(iso: string) {
    this.current = new Date(iso);
  }
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
  setTimer(): () => void {
    throw new Error('reconcileGitSync must not set timers');
  }
}

export const rollout = (image: string, replicas = 4) => `apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: ${image}
  strategy:
    canary:
      stableService: web-stable
      steps:
        - setWeight: 25
        - pause: {}
`;
export const services = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata:
  name: web-stable
spec:
  selector: {app: web}
  ports: [{port: 80}]
`;
export const configMap = (value: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: "${value}"\n`;

function logCapture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _e, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), text: () => lines.join('') };
}

export interface World {
  kube: Cluster;
  clock: FakeClock;
  repo: TestRepo;
  deps: GitSyncDeps;
  logs: () => string;
  reconcile: () => Promise<{ requeueAfterMs?: number }>;
  status: () => GitSyncStatus;
  get: <T extends KubeObject = KubeObject>(kind: ResourceKind, name: string) => T | undefined;
  events: () => Array<{ type: string; reason: string; message: string }>;
  setSpec: (spec: Partial<GitSyncSpec>) => Promise<void>;
  cleanup: () => Promise<void>;
}

export async function world(spec: Partial<GitSyncSpec> = {}, name = 'apps'): Promise<World> {
  const dir = await tempDir('sluice-gitsync-');
  const repo = await TestRepo.create(dir.path);
  const clock = new FakeClock('2025-06-02T10:00:00Z'); // a Monday
  const kube = new Cluster({ now: () => clock.now() });
  const { logger, text } = logCapture();
  const deps: GitSyncDeps = {
    kube,
    git: new CliGitClient({ cacheDir: `${dir.path}/cache`, allowFileUrls: true }),
    clock,
    logger,
    policy: { allowFileUrls: true },
  };
  await kube.create(kinds.gitSync, {
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'GitSync',
    metadata: { name, namespace: 'team' },
    spec: { url: repo.fileUrl, paths: ['deploy'], prune: true, interval: '1m', ...spec },
  });
  return {
    kube,
    clock,
    repo,
    deps,
    logs: text,
    reconcile: () => reconcileGitSyncByKey('team', name, deps),
    status: () => (kube.peek(kinds.gitSync, 'team', name) as { status?: GitSyncStatus } | undefined)?.status ?? {},
    get: (kind, n) => kube.peek(kind, 'team', n),
    events: () => kube.all(kinds.event, 'team').map((e) => ({ type: String(e.type), reason: String(e.reason), message: String(e.message) })),
    setSpec: async (extra) => {
      const current = kube.peek(kinds.gitSync, 'team', name) as { spec: GitSyncSpec };
      await kube.patch(kinds.gitSync, 'team', name, { spec: { ...current.spec, ...extra } }, { type: 'merge' });
    },
    cleanup: () => dir.remove(),
  };
}

export const image = (o: KubeObject | undefined) =>
  ((o?.spec as { template: { spec: { containers: Array<{ image: string }> } } }).template.spec.containers[0] as { image: string }).image;
export const condition = (s: GitSyncStatus, type: string) => s.conditions?.find((c) => c.type === type);
