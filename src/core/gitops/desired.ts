// Desired vs live, pure: the object exactly as it is applied, the order of applying and
// pruning, what to prune, and the inventory. No I/O here: the GitSync reconciler
// (src/controller/gitsync/git-sync-reconciler.ts) reads the live objects and feeds them in.
//
// The field contract ("Git owns / controller owns / people own"), see docs/gitops.md:
// - Git owns every field a manifest sets (for a Rollout: spec.template, spec.strategy,
//   spec.selector, ...). They are applied with server-side apply under the field manager
//   `sluice-gitsync` with force, so drift in them is corrected at every sync, and fields
//   Git does not set are left to their other managers.
// - The controller owns status: `status` is never applied (and a Rollout's status is a
//   subresource, so an apply could not change it anyway).
// - People own the actions they take through the plugin (pause, abort, promote, retry):
//   they live in the Rollout's status, which a sync never writes.
// - An autoscaler owns spec.replicas of a Rollout that a HorizontalPodAutoscaler targets:
//   spec.replicas is dropped from what is applied.
import { APPLIED_HASH_ANNOTATION, GIT_REVISION_ANNOTATION, GIT_SYNC_ANNOTATION, type InventoryEntry } from '../../api/git-sync.ts';
import { GROUP, POD_TEMPLATE_HASH_LABEL } from '../../api/meta.ts';
import { createHash } from 'node:crypto';
import { stableStringify } from '../shared/hash.ts';
import { splitApiVersion, type ManifestObject } from './manifests.ts';
import { refKey, type DesiredObject } from './placement.ts';

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `namespace/name` of every Rollout a HorizontalPodAutoscaler targets. */
export function autoscaledRollouts(hpas: ReadonlyArray<unknown>): Set<string> {
  const out = new Set<string>();
  for (const hpa of hpas) {
    if (!isPlainObject(hpa)) continue;
    const metadata = hpa.metadata as { namespace?: string } | undefined;
    const target = (hpa.spec as { scaleTargetRef?: { apiVersion?: string; kind?: string; name?: string } } | undefined)?.scaleTargetRef;
    if (!target || target.kind !== 'Rollout' || !target.name) continue;
    if (target.apiVersion !== undefined && splitApiVersion(target.apiVersion)[0] !== GROUP) continue;
    out.add(`${metadata?.namespace ?? ''}/${target.name}`);
  }
  return out;
}

const SERVER_METADATA = [
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'selfLink',
];

export interface ApplyContext {
  commit: string;
  /** `<namespace>/<name>` of the GitSync. */
  gitSync: string;
  /** Rollouts (`namespace/name`) an autoscaler targets. */
  autoscaled: ReadonlySet<string>;
  /** The live object, when it exists (to keep the revision of an unchanged Rollout). */
  live?: { spec?: unknown; metadata?: { annotations?: Record<string, string> } } | undefined;
}

/**
 * The object exactly as it is server-side applied: no status, no server-set metadata,
 * stamped with the GitSync and (Rollouts) the Git revision, no replicas under an autoscaler.
 */
export function prepareForApply(desired: DesiredObject, ctx: ApplyContext): ManifestObject {
  const { status: _status, ...rest } = structuredClone(desired.object);
  const metadata = { ...rest.metadata };
  for (const key of SERVER_METADATA) delete metadata[key];
  const annotations: Record<string, string> = { ...(metadata.annotations ?? {}), [GIT_SYNC_ANNOTATION]: ctx.gitSync };
  const obj = { ...rest, metadata } as ManifestObject;
  if (isRollout(desired)) {
    const key = `${desired.ref.namespace ?? ''}/${desired.ref.name}`;
    if (ctx.autoscaled.has(key) && isPlainObject(obj.spec)) {
      const { replicas: _replicas, ...spec } = obj.spec;
      obj.spec = spec;
    }
    const liveRevision = ctx.live?.metadata?.annotations?.[GIT_REVISION_ANNOTATION];
    annotations[GIT_REVISION_ANNOTATION] = liveRevision && !specChanged(obj.spec, ctx.live?.spec) ? liveRevision : ctx.commit;
  }
  if (isService(desired)) keepRolloutSelector(obj, ctx.live);
  metadata.annotations = annotations;
  return obj;
}

/**
 * A Service's selector is an atomic map under server-side apply: applying Git's selector would
 * drop the pod-template hash the rollout controller pins on stable/canary/active/preview
 * Services, and the two would fight on every sync. The live hash is applied with Git's
 * selector instead, unless Git sets that key itself.
 */
function keepRolloutSelector(obj: ManifestObject, live: ApplyContext['live']): void {
  const liveHash = (live?.spec as { selector?: Record<string, string> } | undefined)?.selector?.[POD_TEMPLATE_HASH_LABEL];
  if (liveHash === undefined || !isPlainObject(obj.spec) || !isPlainObject(obj.spec.selector)) return;
  if (POD_TEMPLATE_HASH_LABEL in obj.spec.selector) return;
  obj.spec = { ...obj.spec, selector: { ...obj.spec.selector, [POD_TEMPLATE_HASH_LABEL]: liveHash } };
}

const isService = (d: DesiredObject) => d.ref.kind === 'Service' && d.ref.apiVersion === 'v1';

const isRollout = (d: DesiredObject) => d.ref.kind === 'Rollout' && splitApiVersion(d.ref.apiVersion)[0] === GROUP;

/**
 * Whether applying `desired` (a spec) would change `live` (a spec): some field Git sets
 * differs. Fields only the live object has (set by other managers) do not count.
 */
export function specChanged(desired: unknown, live: unknown): boolean {
  if (!isPlainObject(desired) || !isPlainObject(live)) return stableStringify(desired) !== stableStringify(live);
  return Object.entries(desired).some(([key, value]) => {
    const other = live[key];
    if (isPlainObject(value) && isPlainObject(other)) return specChanged(value, other);
    return stableStringify(value) !== stableStringify(other);
  });
}

// ---------------------------------------------------------------------------------------
// Ordering, pruning, inventory

/** Kinds applied first (others after, Rollouts last so their templates and Services exist). */
const APPLY_RANK: Record<string, number> = {
  CustomResourceDefinition: 0,
  Namespace: 1,
  ResourceQuota: 2,
  LimitRange: 2,
  ServiceAccount: 3,
  Secret: 4,
  ConfigMap: 4,
  PersistentVolumeClaim: 5,
  ClusterRole: 6,
  ClusterRoleBinding: 7,
  Role: 6,
  RoleBinding: 7,
  Service: 8,
  AnalysisTemplate: 9,
  ClusterAnalysisTemplate: 9,
  Rollout: 20,
  HorizontalPodAutoscaler: 21,
};
const rank = (kind: string) => APPLY_RANK[kind] ?? 10;

export function applyOrder<T extends { ref: InventoryEntry }>(objects: T[]): T[] {
  return [...objects].sort((a, b) => rank(a.ref.kind) - rank(b.ref.kind) || refKey(a.ref).localeCompare(refKey(b.ref)));
}

/** Inventory entries that are not desired any more: the candidates for pruning, in deletion order. */
export function calculatePrune(inventory: ReadonlyArray<InventoryEntry>, desired: ReadonlyArray<InventoryEntry>): InventoryEntry[] {
  const wanted = new Set(desired.map(refKey));
  const seen = new Set<string>();
  const out: InventoryEntry[] = [];
  for (const entry of inventory) {
    const key = refKey(entry);
    if (wanted.has(key) || seen.has(key)) continue;
    seen.add(key);
    out.push(entry);
  }
  return out.sort((a, b) => rank(b.kind) - rank(a.kind) || refKey(a).localeCompare(refKey(b)));
}

/** Whether a live object may be pruned by this GitSync: it still carries our stamp. */
export function isOwnedBy(live: { metadata?: { annotations?: Record<string, string> } } | undefined, gitSync: string): boolean {
  return live?.metadata?.annotations?.[GIT_SYNC_ANNOTATION] === gitSync;
}

/** The GitSync that manages a live object, when it is another one than `gitSync`. */
export function managedByOther(live: { metadata?: { annotations?: Record<string, string> } } | undefined, gitSync: string): string | undefined {
  const owner = live?.metadata?.annotations?.[GIT_SYNC_ANNOTATION];
  return owner && owner !== gitSync ? owner : undefined;
}

/** A sorted, de-duplicated inventory. */
export function normaliseInventory(entries: ReadonlyArray<InventoryEntry>): InventoryEntry[] {
  const byKey = new Map<string, InventoryEntry>();
  for (const e of entries) byKey.set(refKey(e), e);
  return [...byKey.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, e]) => e);
}

/**
 * The body to apply, stamped with a digest of itself (APPLIED_HASH_ANNOTATION): the next sync can
 * tell that applying the same body again would change nothing, without asking the API server.
 */
export function stampAppliedHash(body: ManifestObject): ManifestObject {
  const { [APPLIED_HASH_ANNOTATION]: _old, ...annotations } = body.metadata.annotations ?? {};
  const digest = createHash('sha256')
    .update(stableStringify(digestInput({ ...body, metadata: { ...body.metadata, annotations } })))
    .digest('hex')
    .slice(0, 32);
  return { ...body, metadata: { ...body.metadata, annotations: { ...annotations, [APPLIED_HASH_ANNOTATION]: digest } } };
}

/**
 * What the digest covers: the body, less a Service selector's pod-template hash, which the
 * rollout engine re-pins at every step (the sync copies the live value into its body). Its value
 * is still compared with the live one (isNoopApply's `holds`); only its coming and going is not
 * what the digest is for.
 */
function digestInput(body: ManifestObject): ManifestObject {
  const selector = (body.spec as { selector?: unknown } | undefined)?.selector;
  if (body.kind !== 'Service' || body.apiVersion !== 'v1' || !isPlainObject(selector) || !(POD_TEMPLATE_HASH_LABEL in selector)) return body;
  const { [POD_TEMPLATE_HASH_LABEL]: _hash, ...rest } = selector;
  return { ...body, spec: { ...(body.spec as object), selector: rest } };
}

/**
 * Whether applying `body` would change nothing: the live object was last applied from the same
 * body (its digest), and still holds every value the body sets (nobody changed a field Git owns:
 * drift is applied). A field Git dropped changes the digest, so it is applied too (server-side
 * apply then removes it). Saves a dry run and an apply per unchanged object of every sync.
 */
export function isNoopApply(body: ManifestObject, live: unknown): boolean {
  const digest = body.metadata.annotations?.[APPLIED_HASH_ANNOTATION];
  const liveMeta = (live as { metadata?: { annotations?: Record<string, string> } } | undefined)?.metadata;
  if (!digest || liveMeta?.annotations?.[APPLIED_HASH_ANNOTATION] !== digest) return false;
  const { apiVersion: _v, kind: _k, ...fields } = body;
  return holds(live, fields);
}

/** Whether `live` holds every value of `desired` (objects by key, lists element by element, of the same length). */
function holds(live: unknown, desired: unknown): boolean {
  if (Array.isArray(desired)) return Array.isArray(live) && live.length === desired.length && desired.every((d, i) => holds(live[i], d));
  if (isPlainObject(desired)) return isPlainObject(live) && Object.entries(desired).every(([k, v]) => v === undefined || holds(live[k], v));
  return stableStringify(live) === stableStringify(desired);
}
