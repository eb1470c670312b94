// Where each manifest goes, pure: its resource (from API discovery, fed in), its namespace,
// and whether the GitSync may touch it (the controller's GitSyncPolicy and the GitSync's own
// targetNamespace / allowedNamespaces). Also the identity of an object across API versions.
import type { InventoryEntry } from '../../api/git-sync.ts';
import {
  describePosition,
  positionOf,
  problemAt,
  splitApiVersion,
  type Manifest,
  type ManifestObject,
  type ManifestProblem,
  type ManifestSyntax,
  type SourcePosition,
} from './manifests.ts';

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
  /** Where the object's fields are in its file (see positionOf in manifests.ts). */
  syntax?: ManifestSyntax | undefined;
}

/** What the controller allows GitSyncs to do (flags of the controller, not of a GitSync). */
export interface GitSyncPolicy {
  /** Let a GitSync apply into namespaces other than its own (spec.allowedNamespaces / targetNamespace). */
  allowCrossNamespace?: boolean;
  /** Let a GitSync apply cluster-scoped objects (Namespaces, ClusterRoles, ClusterAnalysisTemplates, ...). */
  allowClusterScoped?: boolean;
  /** Accept file:// URLs (they read the controller's own file system). */
  allowFileUrls?: boolean;
  /** The ServiceAccount (in the GitSync's namespace) a sync runs as when its spec names none (default sluice-gitsync). */
  defaultServiceAccount?: string;
}

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
      message:
        `this controller lets a GitSync manage only its own namespace (${gitSyncNamespace}); spec asks for ` +
        `${foreign.join(', ')} (start the controller with cross-namespace sync enabled, or create the GitSync in that namespace)`,
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
  for (const manifest of manifests) {
    const { object, source, syntax } = manifest;
    const subject = `${object.kind} "${object.metadata.name}"`;
    const problem = (reason: string, path: ReadonlyArray<string>, text: string): ManifestProblem =>
      problemAt(reason, positionOf(manifest, path), subject, text);
    const resource = kindOf(object.apiVersion, object.kind);
    if (!resource) {
      problems.push(problem('UnknownKind', ['kind'], `the cluster does not serve kind ${object.kind} in ${object.apiVersion} (is its CRD installed?)`));
      continue;
    }
    let namespace: string | undefined;
    if (resource.namespaced) {
      namespace = object.metadata.namespace ?? scope.defaultNamespace;
      if (!scope.allowed.includes(namespace)) {
        problems.push(
          problem(
            'NamespaceNotAllowed',
            object.metadata.namespace ? ['metadata', 'namespace'] : [],
            `namespace ${namespace} is not one this GitSync may touch (${scope.allowed.join(', ')})`,
          ),
        );
        continue;
      }
    } else if (!scope.clusterScoped) {
      problems.push(
        problem('ClusterScopedNotAllowed', ['kind'], `${object.kind} is cluster-scoped; this controller lets a GitSync manage namespaced objects only`),
      );
      continue;
    }
    const ref: InventoryEntry = { apiVersion: object.apiVersion, kind: object.kind, name: object.metadata.name };
    if (namespace !== undefined) ref.namespace = namespace;
    const key = refKey(ref);
    const first = seen.get(key);
    if (first) {
      problems.push(
        problem('DuplicateObject', ['metadata', 'name'], `${describeRef(ref)} is also defined at ${describePosition(first)}; each object may appear once`),
      );
      continue;
    }
    seen.set(key, source);
    const metadata = { ...object.metadata };
    if (namespace === undefined) delete metadata.namespace;
    else metadata.namespace = namespace;
    objects.push({ ref, resource, object: { ...object, metadata }, source, syntax });
  }
  return { objects, problems };
}
