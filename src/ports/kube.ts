// The Kubernetes port: what the controller, the Git sync and the plugin need from an API server.
// Implemented by adapters/kube/ (a real API server) and test/fakes/ (in memory).

export interface ResourceKind {
  apiVersion: string; // "v1", "apps/v1", "sluice.dev/v1alpha1"
  kind: string;
  plural: string;
  namespaced: boolean;
}

export const kinds = {
  pod: { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true },
  service: { apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  secret: { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true },
  event: { apiVersion: 'v1', kind: 'Event', plural: 'events', namespaced: true },
  replicaSet: { apiVersion: 'apps/v1', kind: 'ReplicaSet', plural: 'replicasets', namespaced: true },
  deployment: { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespaced: true },
  lease: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', plural: 'leases', namespaced: true },
  rollout: { apiVersion: 'sluice.dev/v1alpha1', kind: 'Rollout', plural: 'rollouts', namespaced: true },
  analysisTemplate: { apiVersion: 'sluice.dev/v1alpha1', kind: 'AnalysisTemplate', plural: 'analysistemplates', namespaced: true },
  clusterAnalysisTemplate: { apiVersion: 'sluice.dev/v1alpha1', kind: 'ClusterAnalysisTemplate', plural: 'clusteranalysistemplates', namespaced: false },
  analysisRun: { apiVersion: 'sluice.dev/v1alpha1', kind: 'AnalysisRun', plural: 'analysisruns', namespaced: true },
  gitSync: { apiVersion: 'sluice.dev/v1alpha1', kind: 'GitSync', plural: 'gitsyncs', namespaced: true },
  notificationPolicy: { apiVersion: 'sluice.dev/v1alpha1', kind: 'NotificationPolicy', plural: 'notificationpolicies', namespaced: true },
} as const satisfies Record<string, ResourceKind>;

/** A Kubernetes object as it travels through the port; parse it with zod before trusting it. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: OwnerReference[];
    finalizers?: string[];
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export type PatchType = 'merge' | 'json' | 'apply';

export interface PatchOptions {
  type: PatchType;
  /** Field manager; required for 'apply'. */
  fieldManager?: string;
  force?: boolean;
  subresource?: 'status' | 'scale';
  dryRun?: boolean;
}

/** An API error with its HTTP status (404 not found, 409 conflict, 422 invalid, 0 unreachable). */
export class KubeError extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.name = 'KubeError';
    this.status = status;
    this.reason = reason;
  }
}

export const isNotFound = (err: unknown): boolean => err instanceof KubeError && err.status === 404;

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** A local, watch-fed cache of one kind of object (all namespaces or one). */
export interface Informer<T extends KubeObject = KubeObject> {
  /** Resolves once the first list has been loaded. */
  start(): Promise<void>;
  stop(): Promise<void>;
  list(namespace?: string): T[];
  get(namespace: string | undefined, name: string): T | undefined;
  onChange(handler: (type: WatchEventType, obj: T) => void): void;
}

export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  /**
   * Drops from each cached object what the controller never reads (memory at scale, as
   * controller-runtime's cache transforms). Mutates the object; managedFields always go.
   */
  trim?: (obj: KubeObject) => void;
}

export interface KubeClient {
  get<T extends KubeObject = KubeObject>(kind: ResourceKind, namespace: string | undefined, name: string): Promise<T | undefined>;
  list<T extends KubeObject = KubeObject>(kind: ResourceKind, namespace?: string, labelSelector?: string): Promise<T[]>;
  create<T extends KubeObject = KubeObject>(kind: ResourceKind, obj: T, opts?: { dryRun?: boolean; fieldManager?: string }): Promise<T>;
  patch<T extends KubeObject = KubeObject>(kind: ResourceKind, namespace: string | undefined, name: string, body: unknown, opts: PatchOptions): Promise<T>;
  delete(
    kind: ResourceKind,
    namespace: string | undefined,
    name: string,
    opts?: { propagationPolicy?: 'Foreground' | 'Background' | 'Orphan'; dryRun?: boolean },
  ): Promise<void>;
  /**
   * Evicts a pod (the policy/v1 Eviction subresource): the API server honours the pod's
   * PodDisruptionBudgets and answers 429 when one allows no disruption now.
   */
  evict(namespace: string, name: string): Promise<void>;
  informer<T extends KubeObject = KubeObject>(kind: ResourceKind, opts?: InformerOptions): Informer<T>;
  /** Maps apiVersion+kind to its resource (via discovery for kinds not in `kinds`). */
  resolveKind(apiVersion: string, kind: string): Promise<ResourceKind | undefined>;
  /**
   * A client whose every request impersonates `user` (and `groups`): the API server authorizes
   * it as that user, e.g. `system:serviceaccount:<namespace>:<name>` (a GitSync's ServiceAccount).
   */
  impersonate?(user: string, groups?: string[]): KubeClient;
}

/** The user name of a ServiceAccount, as the API server authenticates (and impersonates) it. */
export const serviceAccountUser = (namespace: string, name: string) => `system:serviceaccount:${namespace}:${name}`;
