// GitOps, pure: manifests read from a commit -> validated desired objects -> what to apply
// and what to prune. No I/O here: the GitSync controller (src/controller/gitsync/git-sync-reconciler.ts)
// fetches, asks the API server, and feeds the answers in.
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
import { load, loadAll, CORE_SCHEMA, mergeTag, type YAMLException } from 'js-yaml';
import { z } from 'zod';
import { AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate } from '../../api/analysis.ts';
import { GIT_REVISION_ANNOTATION, GIT_SYNC_ANNOTATION, GitSync, type InventoryEntry } from '../../api/git-sync.ts';
import { GROUP, POD_TEMPLATE_HASH_LABEL } from '../../api/meta.ts';
import { Rollout } from '../../api/rollout.ts';
import { stableStringify } from '../shared/hash.ts';
import { formatIssues, formatPath } from '../shared/zod-issues.ts';
import { referencedServices, validateRollout } from '../rollout/validate.ts';

// ---------------------------------------------------------------------------------------
// Types

/** A file read from a commit, decoded as UTF-8. */
export interface SourceFile {
  path: string;
  content: string;
}

/** Where a manifest came from. `document` and `line` are 1-based. */
export interface SourcePosition {
  file: string;
  document: number;
  line: number;
}

/** A Kubernetes object as written in Git (parsed, not yet trusted beyond the generic shape). */
export type ManifestObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: Record<string, unknown> & { name: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string> };
};

export interface Manifest {
  source: SourcePosition;
  object: ManifestObject;
}

/** A problem a user can act on; `reason` is CamelCase for conditions and Events. */
export interface ManifestProblem {
  reason: string;
  message: string;
  file?: string;
  document?: number;
  line?: number;
}

/** The resource behind an apiVersion + kind (structurally the kube port's ResourceKind). */
export interface KindInfo {
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

export interface DesiredObject {
  ref: InventoryEntry;
  resource: KindInfo;
  object: ManifestObject;
  source: SourcePosition;
}

/** What the controller allows GitSyncs to do (flags of the controller, not of a GitSync). */
export interface GitSyncPolicy {
  /** Let a GitSync apply into namespaces other than its own (spec.allowedNamespaces / targetNamespace). */
  allowCrossNamespace?: boolean;
  /** Let a GitSync apply cluster-scoped objects (Namespaces, ClusterRoles, ClusterAnalysisTemplates, ...). */
  allowClusterScoped?: boolean;
  /** Accept file:// URLs (they read the controller's own file system). */
  allowFileUrls?: boolean;
}

// ---------------------------------------------------------------------------------------
// Parsing

const YAML_SCHEMA = CORE_SCHEMA.withTags(mergeTag);
const YAML_OPTIONS = { schema: YAML_SCHEMA, maxAliases: 1000, maxDepth: 100 };
const MANIFEST_EXTENSIONS = ['.yaml', '.yml', '.json'];

export function isManifestPath(path: string): boolean {
  const lower = path.toLowerCase();
  return MANIFEST_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

/**
 * Splits a YAML stream at document markers (`---` / `...` at the start of a line, as the
 * YAML spec defines them), keeping each part's first line so errors can point at a line.
 */
export function splitDocuments(text: string): Array<{ text: string; start: number; line: number }> {
  const lines = text.split('\n');
  const parts: Array<{ text: string; start: number; line: number }> = [];
  let start = 0;
  const flush = (end: number) => {
    const chunk = lines.slice(start, end);
    const first = chunk.findIndex((l) => !isFiller(l));
    if (first < 0) return; // nothing but a marker, comments and blank lines
    // `start`: the part's first line (errors count from it); `line`: its first line of content.
    parts.push({ text: chunk.join('\n'), start: start + 1, line: start + first + 1 });
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (/^---(\s|$)/.test(line) && i > start) {
      flush(i);
      start = i;
    } else if (/^\.\.\.\s*$/.test(line)) {
      flush(i);
      start = i + 1;
    }
  }
  if (start < lines.length) flush(lines.length);
  return parts;
}

const isFiller = (line: string) => /^\s*(#.*)?$/.test(line) || /^---\s*(#.*)?$/.test(line);

const ManifestName = z
  .string({ error: 'metadata.name is required' })
  .min(1, 'metadata.name must not be empty')
  .max(253, 'metadata.name is longer than 253 characters')
  .regex(/^[^/%\s]+$/, 'metadata.name must not contain "/", "%" or spaces');

/** The shape every object needs before the API server can be asked about it. */
export const GenericManifest = z.looseObject({
  apiVersion: z.string({ error: 'apiVersion is required' }).min(1, 'apiVersion must not be empty'),
  kind: z.string({ error: 'kind is required' }).regex(/^[A-Z][A-Za-z0-9]*$/, 'kind must be a CamelCase name such as Rollout'),
  metadata: z.looseObject(
    {
      name: ManifestName,
      namespace: z.string().min(1).optional(),
      labels: z.record(z.string(), z.string({ error: 'must be a string (quote numbers and booleans)' })).optional(),
      annotations: z.record(z.string(), z.string({ error: 'must be a string (quote numbers and booleans)' })).optional(),
    },
    { error: 'metadata is required (with at least a name)' },
  ),
});

function yamlProblem(err: unknown, file: string, document: number, firstLine: number): ManifestProblem {
  const y = err as Partial<YAMLException>;
  // Never the snippet: the document may be a Secret.
  const line = y.mark ? firstLine + y.mark.line : firstLine;
  const column = y.mark ? y.mark.column + 1 : undefined;
  const reason = y.reason ?? (err instanceof Error ? err.message : String(err));
  return {
    reason: 'InvalidYAML',
    message: `${file}: document ${document}: invalid YAML at line ${line}${column ? `, column ${column}` : ''}: ${reason}`,
    file,
    document,
    line,
  };
}

/** Parses one file into manifests; each problem names the file, the document and the line. */
export function parseManifestFile(file: SourceFile): { manifests: Manifest[]; problems: ManifestProblem[] } {
  const manifests: Manifest[] = [];
  const problems: ManifestProblem[] = [];
  const text = file.content.replace(/^\uFEFF/, '').replace(/\r\n/g, '\n');
  if (file.path.toLowerCase().endsWith('.json')) {
    try {
      const value = load(text, YAML_OPTIONS);
      pushDocument(value, { file: file.path, document: 1, line: 1 }, manifests, problems);
    } catch (err) {
      problems.push(yamlProblem(err, file.path, 1, 1));
    }
    return { manifests, problems };
  }
  splitDocuments(text).forEach((part, index) => {
    const position = { file: file.path, document: index + 1, line: part.line };
    let values: unknown[];
    try {
      values = loadAll(part.text, YAML_OPTIONS);
    } catch (err) {
      problems.push(yamlProblem(err, file.path, position.document, part.start));
      return;
    }
    for (const value of values) pushDocument(value, position, manifests, problems);
  });
  return { manifests, problems };
}

function pushDocument(value: unknown, source: SourcePosition, manifests: Manifest[], problems: ManifestProblem[]): void {
  if (value === null || value === undefined) return; // an empty document
  const where = `${source.file}: document ${source.document} (line ${source.line})`;
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push({
      reason: 'InvalidManifest',
      message: `${where}: not a Kubernetes object (found ${Array.isArray(value) ? 'a list' : typeof value})`,
      ...source,
    });
    return;
  }
  const obj = value as Record<string, unknown>;
  // `kind: List` (as kubectl writes) holds objects in items.
  if (obj.kind === 'List' && typeof obj.apiVersion === 'string' && Array.isArray(obj.items)) {
    for (const item of obj.items) pushDocument(item, source, manifests, problems);
    return;
  }
  const parsed = GenericManifest.safeParse(obj);
  if (!parsed.success) {
    problems.push({ reason: 'InvalidManifest', message: `${where}: ${formatIssues(parsed.error.issues)}`, ...source });
    return;
  }
  manifests.push({ source, object: obj as ManifestObject });
}

export function parseManifests(files: SourceFile[]): { manifests: Manifest[]; problems: ManifestProblem[] } {
  const manifests: Manifest[] = [];
  const problems: ManifestProblem[] = [];
  for (const file of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    const result = parseManifestFile(file);
    manifests.push(...result.manifests);
    problems.push(...result.problems);
  }
  return { manifests, problems };
}

// ---------------------------------------------------------------------------------------
// Validation of each manifest

/** Fields present in the input that the (non-loose) schema dropped: typos such as `stratgy`. */
export function unknownFields(input: unknown, output: unknown, path: Array<string | number> = []): string[] {
  if (Array.isArray(input) && Array.isArray(output)) {
    return input.flatMap((item, i) => unknownFields(item, output[i], [...path, i]));
  }
  if (isPlainObject(input) && isPlainObject(output)) {
    const found: string[] = [];
    for (const key of Object.keys(input)) {
      if (!(key in output)) found.push(formatPath([...path, key]));
      else found.push(...unknownFields(input[key], output[key], [...path, key]));
    }
    return found;
  }
  return [];
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Schemas of the Sluice kinds a GitSync may apply; other sluice.dev kinds are refused. */
const SLUICE_SCHEMAS: Record<string, z.ZodType> = {
  Rollout,
  AnalysisTemplate,
  ClusterAnalysisTemplate,
  AnalysisRun,
  GitSync,
};

/** Schema checks of one manifest: Sluice kinds against their zod schemas (and the Rollout rules the CRD cannot express). */
export function validateManifest(manifest: Manifest): ManifestProblem[] {
  const { object, source } = manifest;
  const where = `${source.file}: document ${source.document} (line ${source.line}): ${object.kind} "${object.metadata.name}"`;
  const problem = (message: string): ManifestProblem => ({ reason: 'InvalidManifest', message: `${where}: ${message}`, ...source });
  const [group, version] = splitApiVersion(object.apiVersion);
  if (group !== GROUP) return [];
  const schema = SLUICE_SCHEMAS[object.kind];
  if (!schema) {
    return [{ ...problem(`unknown Sluice kind; expected one of ${Object.keys(SLUICE_SCHEMAS).join(', ')}`), reason: 'UnknownKind' }];
  }
  if (version !== 'v1alpha1') return [{ ...problem(`unsupported apiVersion ${object.apiVersion}; use ${GROUP}/v1alpha1`), reason: 'UnknownKind' }];
  const { status: _status, ...withoutStatus } = object;
  const parsed = schema.safeParse(withoutStatus);
  if (!parsed.success) return [problem(formatIssues(parsed.error.issues))];
  const problems: ManifestProblem[] = [];
  const unknown = unknownFields(withoutStatus, parsed.data).filter((p) => !p.startsWith('metadata'));
  if (unknown.length) problems.push(problem(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (misspelt?)`));
  if (object.kind === 'Rollout') {
    const rollout = parsed.data as Rollout;
    // Services are checked by the rollout controller at run time; here every referenced one counts as present.
    const services = Object.fromEntries(referencedServices(rollout).map((name) => [name, { metadata: { name } }]));
    for (const message of validateRollout(rollout, services as Parameters<typeof validateRollout>[1])) problems.push(problem(message));
  }
  return problems;
}

export function splitApiVersion(apiVersion: string): [group: string, version: string] {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? ['', apiVersion] : [apiVersion.slice(0, slash), apiVersion.slice(slash + 1)];
}

// ---------------------------------------------------------------------------------------
// Identity, namespaces and policy

/** Identity of an object across API versions: group, kind, namespace, name. */
export function refKey(ref: { apiVersion: string; kind: string; namespace?: string | undefined; name: string }): string {
  return `${splitApiVersion(ref.apiVersion)[0]}/${ref.kind}/${ref.namespace ?? ''}/${ref.name}`;
}

export function describeRef(ref: InventoryEntry): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}

export interface NamespaceScope {
  /** Namespace given to namespaced objects that name none. */
  defaultNamespace: string;
  /** Namespaces objects may be applied in. */
  allowed: string[];
  clusterScoped: boolean;
}

/** The namespaces a GitSync may touch, or the reason its spec asks for more than the controller allows. */
export function namespaceScope(
  gitSyncNamespace: string,
  spec: { targetNamespace?: string | undefined; allowedNamespaces?: string[] | undefined },
  policy: GitSyncPolicy,
): NamespaceScope | ManifestProblem {
  const defaultNamespace = spec.targetNamespace ?? gitSyncNamespace;
  const allowed = spec.allowedNamespaces ?? [defaultNamespace];
  const foreign = [...new Set([defaultNamespace, ...allowed])].filter((ns) => ns !== gitSyncNamespace);
  if (foreign.length > 0 && !policy.allowCrossNamespace) {
    return {
      reason: 'NamespaceNotAllowed',
      message: `this controller lets a GitSync manage only its own namespace (${gitSyncNamespace}); spec asks for ${foreign.join(', ')} (start the controller with cross-namespace sync enabled, or create the GitSync in that namespace)`,
    };
  }
  if (!allowed.includes(defaultNamespace)) {
    return { reason: 'NamespaceNotAllowed', message: `spec.targetNamespace ${defaultNamespace} is not in spec.allowedNamespaces (${allowed.join(', ')})` };
  }
  return { defaultNamespace, allowed, clusterScoped: policy.allowClusterScoped ?? false };
}

/**
 * Places each manifest: resolves its resource (kindOf answers from API discovery), fills in
 * the namespace, and checks it against the scope. Also refuses the same object twice.
 */
export function placeManifests(
  manifests: Manifest[],
  kindOf: (apiVersion: string, kind: string) => KindInfo | undefined,
  scope: NamespaceScope,
): { objects: DesiredObject[]; problems: ManifestProblem[] } {
  const objects: DesiredObject[] = [];
  const problems: ManifestProblem[] = [];
  const seen = new Map<string, SourcePosition>();
  for (const { object, source } of manifests) {
    const where = `${source.file}: document ${source.document} (line ${source.line}): ${object.kind} "${object.metadata.name}"`;
    const resource = kindOf(object.apiVersion, object.kind);
    if (!resource) {
      problems.push({
        reason: 'UnknownKind',
        message: `${where}: the cluster does not serve kind ${object.kind} in ${object.apiVersion} (is its CRD installed?)`,
        ...source,
      });
      continue;
    }
    let namespace: string | undefined;
    if (resource.namespaced) {
      namespace = object.metadata.namespace ?? scope.defaultNamespace;
      if (!scope.allowed.includes(namespace)) {
        problems.push({
          reason: 'NamespaceNotAllowed',
          message: `${where}: namespace ${namespace} is not one this GitSync may touch (${scope.allowed.join(', ')})`,
          ...source,
        });
        continue;
      }
    } else if (!scope.clusterScoped) {
      problems.push({
        reason: 'ClusterScopedNotAllowed',
        message: `${where}: ${object.kind} is cluster-scoped; this controller lets a GitSync manage namespaced objects only`,
        ...source,
      });
      continue;
    }
    const ref: InventoryEntry = { apiVersion: object.apiVersion, kind: object.kind, name: object.metadata.name };
    if (namespace !== undefined) ref.namespace = namespace;
    const key = refKey(ref);
    const first = seen.get(key);
    if (first) {
      problems.push({
        reason: 'DuplicateObject',
        message: `${where}: ${describeRef(ref)} is also defined in ${first.file} document ${first.document}; each object may appear once`,
        ...source,
      });
      continue;
    }
    seen.set(key, source);
    const metadata = { ...object.metadata };
    if (namespace === undefined) delete metadata.namespace;
    else metadata.namespace = namespace;
    objects.push({ ref, resource, object: { ...object, metadata }, source });
  }
  return { objects, problems };
}

// ---------------------------------------------------------------------------------------
// The field contract

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
