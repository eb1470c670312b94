// Reading a Rollout and what belongs to it through the kube port, as any client of the API can.
import { ROLLOUT_LABEL } from '../../api/analysis.ts';
import type { Rollout } from '../../api/rollout.ts';
import { kinds, type KubeClient, type KubeObject } from '../../ports/kube.ts';
import { kubeFailure } from '../connect.ts';
import { CliError, EXIT } from '../io.ts';
import type { RolloutObjects } from '../model/rollout.ts';

export type RolloutObject = Rollout & KubeObject;

export async function readRollout(kube: KubeClient, namespace: string, name: string): Promise<RolloutObject> {
  let obj: KubeObject | undefined;
  try {
    obj = await kube.get(kinds.rollout, namespace, name);
  } catch (err) {
    throw kubeFailure(err, `reading Rollout ${namespace}/${name}`);
  }
  if (!obj) throw new CliError(`Rollout "${name}" not found in namespace ${namespace}`, EXIT.failed);
  return obj as RolloutObject;
}

/** The label selector of the Rollout's pods, as the controller publishes it (or from matchLabels). */
function podSelector(rollout: Rollout): string | undefined {
  if (rollout.status?.selector) return rollout.status.selector;
  const labels = rollout.spec?.selector?.matchLabels;
  return labels
    ? Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(',') || undefined
    : undefined;
}

export async function readRolloutObjects(kube: KubeClient, rollout: RolloutObject): Promise<RolloutObjects> {
  const namespace = rollout.metadata.namespace as string;
  const name = rollout.metadata.name as string;
  const selector = podSelector(rollout);
  try {
    const [replicaSets, pods, analysisRuns] = await Promise.all([
      kube.list(kinds.replicaSet, namespace, selector),
      kube.list(kinds.pod, namespace, selector),
      kube.list(kinds.analysisRun, namespace, `${ROLLOUT_LABEL}=${name}`),
    ]);
    return { rollout, replicaSets, pods, analysisRuns };
  } catch (err) {
    throw kubeFailure(err, `reading the ReplicaSets, pods and AnalysisRuns of Rollout ${namespace}/${name}`);
  }
}
