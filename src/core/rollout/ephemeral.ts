// Ephemeral pod metadata (Argo Rollouts' canaryMetadata/stableMetadata, previewMetadata/activeMetadata):
// labels and annotations a ReplicaSet's pods carry only while it plays a role. They go into the
// ReplicaSet's pod template (for pods created later) and onto its existing pods; what was injected
// is remembered in an annotation so that only that is removed when the role or the spec changes.
import type { PodMetadata } from '../../api/rollout.ts';
import type { ReplicaSet } from '../../api/workload.ts';
import type { Context } from './context.ts';
import type { MetadataPatch } from './types.ts';

export const EPHEMERAL_METADATA_ANNOTATION = 'sluice.dev/ephemeral-metadata';

function injected(rs: ReplicaSet): PodMetadata {
  const raw = rs.metadata.annotations?.[EPHEMERAL_METADATA_ANNOTATION];
  if (!raw) return {};
  try {
    const parsed = JSON.parse(raw) as PodMetadata;
    return typeof parsed === 'object' && parsed ? parsed : {};
  } catch {
    return {};
  }
}

/** The changes that take `current` to carry `desired`, removing what `before` injected and `desired` drops. */
function diff(current: Record<string, string> | undefined, desired: Record<string, string> | undefined, before: Record<string, string> | undefined) {
  const patch: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(desired ?? {})) if (current?.[k] !== v) patch[k] = v;
  for (const k of Object.keys(before ?? {})) if (!(k in (desired ?? {})) && current && k in current) patch[k] = null;
  return patch;
}

function metadataPatch(
  current: { labels?: Record<string, string>; annotations?: Record<string, string> } | undefined,
  desired: PodMetadata,
  before: PodMetadata,
): MetadataPatch | undefined {
  const labels = diff(current?.labels, desired.labels, before.labels);
  const annotations = diff(current?.annotations, desired.annotations, before.annotations);
  const out: MetadataPatch = {};
  if (Object.keys(labels).length) out.labels = labels;
  if (Object.keys(annotations).length) out.annotations = annotations;
  return out.labels || out.annotations ? out : undefined;
}

const isEmpty = (m: PodMetadata | undefined) => !m || (Object.keys(m.labels ?? {}).length === 0 && Object.keys(m.annotations ?? {}).length === 0);

/** Makes the ReplicaSet's template and pods carry `desired` (undefined: nothing injected). */
export function syncEphemeralMetadata(ctx: Context, rs: ReplicaSet | undefined, desired: PodMetadata | undefined): void {
  if (!rs) return;
  const before = injected(rs);
  const want = desired ?? {};
  const template = (rs.spec.template as { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } } | undefined)?.metadata;
  const name = rs.metadata.name as string;
  const templatePatch = metadataPatch(template, want, before);
  const recorded = rs.metadata.annotations?.[EPHEMERAL_METADATA_ANNOTATION];
  const record = isEmpty(want) ? null : JSON.stringify(want);
  if (templatePatch || (recorded ?? null) !== record) {
    ctx.actions.push({ type: 'patchReplicaSetMetadata', name, annotations: { [EPHEMERAL_METADATA_ANNOTATION]: record }, template: templatePatch ?? {} });
  }
  for (const pod of ctx.observed.pods) {
    if (pod.metadata.deletionTimestamp || !(pod.metadata.ownerReferences ?? []).some((r) => r.kind === 'ReplicaSet' && r.name === name)) continue;
    const patch = metadataPatch(pod.metadata, want, before);
    if (patch) ctx.actions.push({ type: 'patchPodMetadata', name: pod.metadata.name as string, patch });
  }
}
