// Watches the objects of one benchmark namespace and keeps every change with the time this
// process received it (ms since the epoch, sub-millisecond). Conditions (pods ready) and the
// controller's writes are both read from this one record, so the watch delay is on both sides.
import { performance } from 'node:perf_hooks';
import { KubeConfig, Watch } from '@kubernetes/client-node';

type Obj = Record<string, any>;

export type Kind = 'rollout' | 'replicaset' | 'deployment' | 'service' | 'analysisrun' | 'canary' | 'gitsync';

export interface Ev {
  t: number;
  kind: Kind;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  name: string;
  obj: Obj;
}

export const now = (): number => performance.timeOrigin + performance.now();

/** The parts of an object the measurements read (keeps memory bounded at 1,000 rollouts). */
function slim(kind: Kind, o: Obj): Obj {
  const m = o.metadata ?? {};
  const meta = {
    name: m.name,
    generation: m.generation,
    resourceVersion: m.resourceVersion,
    labels: m.labels,
    annotations: m.annotations,
    owner: m.ownerReferences?.[0]?.name,
    deleting: Boolean(m.deletionTimestamp),
  };
  switch (kind) {
    case 'rollout':
      return {
        metadata: meta,
        spec: { image: o.spec?.template?.spec?.containers?.[0]?.image, steps: o.spec?.strategy?.canary?.steps },
        status: o.status ?? {},
      };
    case 'replicaset':
    case 'deployment':
      return { metadata: meta, spec: { replicas: o.spec?.replicas ?? 1, image: o.spec?.template?.spec?.containers?.[0]?.image }, status: o.status ?? {} };
    case 'service':
      return { metadata: meta, spec: { selector: o.spec?.selector } };
    case 'analysisrun':
      return {
        metadata: meta,
        status: {
          phase: o.status?.phase,
          metricResults: (o.status?.metricResults ?? []).map((r: Obj) => ({
            name: r.name,
            phase: r.phase,
            measurements: (r.measurements ?? []).map((x: Obj) => ({ phase: x.phase })),
          })),
        },
      };
    case 'canary':
      return { metadata: meta, status: { phase: o.status?.phase, lastTransitionTime: o.status?.lastTransitionTime } };
    case 'gitsync':
      return {
        metadata: meta,
        status: { lastSyncedCommit: o.status?.lastSyncedCommit, lastHandledSyncRequest: o.status?.lastHandledSyncRequest, lastError: o.status?.lastError },
      };
  }
}

export interface Recorder {
  events: Ev[];
  /** Latest object of each kind by name. */
  latest(kind: Kind): Map<string, Obj>;
  /** Resolves when every watch has delivered its first response (the initial ADDED events). */
  ready: Promise<void>;
  stop(): void;
}

export function record(kubeconfig: string, ns: string, paths: Partial<Record<Kind, string>>): Recorder {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const watch = new Watch(kc);
  const events: Ev[] = [];
  const latest = new Map<Kind, Map<string, Obj>>();
  let stopped = false;
  const aborts: AbortController[] = [];
  const readies: Promise<void>[] = [];
  for (const [kind, base] of Object.entries(paths) as Array<[Kind, string]>) {
    const path = `${base.replace('{ns}', ns)}`;
    latest.set(kind, new Map());
    let rv: string | undefined;
    let markReady: () => void = () => {};
    readies.push(new Promise((r) => (markReady = r)));
    const loop = async () => {
      while (!stopped) {
        await new Promise<void>((done) => {
          watch
            .watch(
              path,
              { allowWatchBookmarks: true, ...(rv ? { resourceVersion: rv } : {}) },
              (type, obj: Obj) => {
                const t = now();
                if (type === 'BOOKMARK') {
                  rv = obj.metadata?.resourceVersion ?? rv;
                  return;
                }
                if (type === 'ERROR') {
                  rv = undefined; // e.g. 410 Gone: start over from a fresh list
                  return;
                }
                rv = obj.metadata?.resourceVersion ?? rv;
                const s = slim(kind, obj);
                const name = String(obj.metadata?.name);
                events.push({ t, kind, type: type as Ev['type'], name, obj: s });
                if (type === 'DELETED') latest.get(kind)!.delete(name);
                else latest.get(kind)!.set(name, s);
              },
              () => done(),
            )
            .then((ac) => {
              aborts.push(ac);
              markReady();
            })
            .catch(() => done());
        });
        if (!stopped) await new Promise((r) => setTimeout(r, 200));
      }
    };
    void loop();
  }
  return {
    events,
    latest: (k) => latest.get(k) ?? new Map(),
    ready: Promise.all(readies).then(() => undefined),
    stop() {
      stopped = true;
      for (const a of aborts) a.abort();
    },
  };
}

/** The resource paths watched for each controller's objects. */
export const PATHS = {
  sluice: {
    rollout: '/apis/sluice.dev/v1alpha1/namespaces/{ns}/rollouts',
    analysisrun: '/apis/sluice.dev/v1alpha1/namespaces/{ns}/analysisruns',
    replicaset: '/apis/apps/v1/namespaces/{ns}/replicasets',
    service: '/api/v1/namespaces/{ns}/services',
  },
  argo: {
    rollout: '/apis/argoproj.io/v1alpha1/namespaces/{ns}/rollouts',
    analysisrun: '/apis/argoproj.io/v1alpha1/namespaces/{ns}/analysisruns',
    replicaset: '/apis/apps/v1/namespaces/{ns}/replicasets',
    service: '/api/v1/namespaces/{ns}/services',
  },
  flagger: {
    canary: '/apis/flagger.app/v1beta1/namespaces/{ns}/canaries',
    deployment: '/apis/apps/v1/namespaces/{ns}/deployments',
    service: '/api/v1/namespaces/{ns}/services',
  },
} satisfies Record<string, Partial<Record<Kind, string>>>;
