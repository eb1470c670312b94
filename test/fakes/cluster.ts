// Plays the parts of Kubernetes the rollout engine relies on, over FakeKube: the ReplicaSet
// controller (pods for replicas) and the kubelet (pods become Ready), deterministically.
import { kinds, type KubeObject } from '../../src/ports/kube.ts';
import type { FakeKube } from './kube.ts';

type Obj = KubeObject & { spec?: any; status?: any };

export class FakeCluster {
  private readonly kube: FakeKube;
  private podSeq = 0;
  /** Images whose pods never become Ready (e.g. a crash-looping version). */
  readonly neverReady = new Set<string>();

  constructor(kube: FakeKube) {
    this.kube = kube;
  }

  /** One pass of the ReplicaSet controller and kubelet; returns whether anything changed. */
  async step(): Promise<boolean> {
    let changed = false;
    for (const rs of this.kube.all<Obj>(kinds.replicaSet)) {
      const ns = rs.metadata?.namespace as string;
      const name = rs.metadata?.name as string;
      const pods = this.kube.all<Obj>(kinds.pod, ns).filter((p) => p.metadata?.ownerReferences?.some((r) => r.uid === rs.metadata?.uid));
      const want = rs.spec?.replicas ?? 0;
      if (pods.length < want) {
        for (let i = pods.length; i < want; i++) {
          const template = rs.spec?.template ?? {};
          await this.kube.create(kinds.pod, {
            metadata: {
              name: `${name}-${(this.podSeq++).toString(36).padStart(5, '0')}`,
              namespace: ns,
              labels: { ...template.metadata?.labels },
              ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name, uid: rs.metadata?.uid as string, controller: true }],
            },
            spec: structuredClone(template.spec ?? {}),
            status: { phase: 'Pending' },
          });
        }
        changed = true;
      } else if (pods.length > want) {
        const victims = [...pods].sort((a, b) => Number(isReady(a)) - Number(isReady(b)) || (b.metadata?.name ?? '').localeCompare(a.metadata?.name ?? ''));
        for (const p of victims.slice(0, pods.length - want)) await this.kube.delete(kinds.pod, ns, p.metadata?.name as string);
        changed = true;
      }
    }
    for (const pod of this.kube.all<Obj>(kinds.pod)) {
      const image = pod.spec?.containers?.[0]?.image as string | undefined;
      const ready = !this.neverReady.has(image ?? '');
      if (isReady(pod) !== ready) {
        await this.kube.patch(
          kinds.pod,
          pod.metadata?.namespace,
          pod.metadata?.name as string,
          {
            status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
          },
          { type: 'merge', subresource: 'status' },
        );
        changed = true;
      }
    }
    for (const rs of this.kube.all<Obj>(kinds.replicaSet)) {
      const pods = this.kube.all<Obj>(kinds.pod, rs.metadata?.namespace).filter((p) => p.metadata?.ownerReferences?.some((r) => r.uid === rs.metadata?.uid));
      const ready = pods.filter(isReady).length;
      const status = { replicas: pods.length, readyReplicas: ready, availableReplicas: ready, observedGeneration: rs.metadata?.generation };
      if (JSON.stringify(status) !== JSON.stringify(rs.status)) {
        await this.kube.patch(kinds.replicaSet, rs.metadata?.namespace, rs.metadata?.name as string, { status }, { type: 'merge', subresource: 'status' });
        changed = true;
      }
    }
    return changed;
  }
}

export function isReady(pod: Obj): boolean {
  return (pod.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
}
