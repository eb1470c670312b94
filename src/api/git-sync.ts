// The GitSync resource: the zod schema is the single source; crds/gitsync.yaml is generated
// from it (src/api/crds.ts). Semantics and choices are documented in docs/gitops.md.
//
// Choices worth knowing:
// - `ref` is an object with at most one of `branch`, `tag`, `commit` (as Flux's
//   GitRepository does); none means the remote's default branch (its HEAD). A single
//   string would be ambiguous ("is v1.2 a branch or a tag?").
// - `interval` and `schedule` are mutually exclusive; neither means every 5 minutes.
// - A sync runs as a ServiceAccount of the GitSync's namespace (spec.serviceAccountName, or
//   the controller's default): every read, dry run, apply and prune of objects, and the read
//   of the credentials Secret, impersonates it; never the controller's own rights.
// - A GitSync may touch only its own namespace unless the controller allows more
//   (see GitSyncPolicy in src/core/gitops/manifests.ts); cluster-scoped objects are refused by default.
// - Cron expressions (schedule, sync windows) use node-cron's grammar with five fields
//   (minute hour day-of-month month day-of-week), read in spec.timeZone (default UTC).
import { z } from 'zod';
import { Condition, Duration, ObjectMeta } from './meta.ts';

/** Field manager of every server-side apply a GitSync makes. */
export const GIT_SYNC_FIELD_MANAGER = 'sluice-gitsync';
/** Stamped on every applied Rollout: the commit its current spec came from. */
export const GIT_REVISION_ANNOTATION = 'sluice.dev/git-revision';
/** Stamped on every applied object: `<namespace>/<name>` of the GitSync that manages it. */
export const GIT_SYNC_ANNOTATION = 'sluice.dev/git-sync';
/** A digest of what a sync applied to an object: the next sync with the same digest and no drift applies nothing. */
export const APPLIED_HASH_ANNOTATION = 'sluice.dev/applied-hash';
/** Set (to any new value, e.g. a timestamp) by `kubectl sluice sync` or the webhook receiver: sync now. */
export const SYNC_REQUESTED_ANNOTATION = 'sluice.dev/sync-requested-at';

export const DEFAULT_INTERVAL = '5m';
export const DEFAULT_TIMEOUT = '60s';
export const DEFAULT_WEBHOOK_SECRET_KEY = 'token';
/** The ServiceAccount (in the GitSync's namespace) a sync runs as when spec.serviceAccountName is not set (the controller can name another). */
export const DEFAULT_GITSYNC_SERVICE_ACCOUNT = 'sluice-gitsync';

const NAME_PATTERN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const name = () => z.string().min(1).max(253).regex(NAME_PATTERN, 'must be a lowercase DNS name');
const namespaceName = () =>
  z
    .string()
    .min(1)
    .max(63)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a namespace name (lowercase letters, digits and -)');

/** Git ref names: a conservative subset of what `git check-ref-format` accepts (no leading -, no spaces, no .., no ~^:?*[\). */
const REF_NAME = /^[A-Za-z0-9_][A-Za-z0-9._/+@-]*$/;

export const GitRef = z
  .object({
    branch: z.string().min(1).max(255).regex(REF_NAME, 'must be a branch name such as main or release/1.2').optional(),
    tag: z.string().min(1).max(255).regex(REF_NAME, 'must be a tag name such as v1.2.3').optional(),
    commit: z
      .string()
      .regex(/^([0-9a-f]{40}|[0-9a-f]{64})$/, 'must be a full commit id (40 or 64 lowercase hex digits)')
      .optional()
      .describe('A full commit id; abbreviated ids are ambiguous and refused'),
  })
  .meta({
    'x-kubernetes-validations': [
      { rule: '[has(self.branch), has(self.tag), has(self.commit)].filter(x, x).size() <= 1', message: 'ref sets at most one of branch, tag and commit' },
    ],
  });
export type GitRef = z.infer<typeof GitRef>;

export const SyncWindow = z.object({
  kind: z.enum(['allow', 'deny']).describe('allow: syncs happen only inside allow windows; deny: never inside a deny window (deny wins)'),
  schedule: z.string().min(1).max(100).describe('Cron expression (5 fields, in spec.timeZone) for when the window opens, e.g. "0 22 * * 5"'),
  duration: Duration.describe('How long the window stays open, e.g. 8h'),
});
export type SyncWindow = z.infer<typeof SyncWindow>;

export const LocalSecretRef = z.object({ name: name().describe('A Secret in the GitSync namespace') });

export const GitSyncSpec = z
  .object({
    url: z
      .string()
      .min(1)
      .max(2048)
      .regex(/^(https?:\/\/|ssh:\/\/|file:\/\/|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:)/, 'must be an https://, http://, ssh://, user@host:path or file:// URL')
      .describe('Repository URL: https://, ssh:// (or git@host:path) or file://; never put credentials in it, use secretRef'),
    ref: GitRef.optional().describe('Branch, tag or commit; default: the remote default branch'),
    paths: z
      .array(z.string().min(1).max(1024))
      .max(64)
      .optional()
      .describe(
        'Files or directories (relative to the repository root, read recursively) holding *.yaml, *.yml or *.json manifests; default: the whole repository',
      ),
    interval: Duration.optional().describe('Poll interval (default 5m); exclusive with schedule'),
    schedule: z.string().min(1).max(100).optional().describe('Cron expression (5 fields, in spec.timeZone) for when to sync; exclusive with interval'),
    timeZone: z.string().min(1).max(64).optional().describe('IANA time zone of schedule and syncWindows, e.g. Europe/Berlin (default UTC)'),
    syncWindows: z.array(SyncWindow).max(32).optional(),
    prune: z.boolean().optional().describe('Delete objects this GitSync applied that are no longer in Git (default false)'),
    suspend: z.boolean().optional().describe('Stop syncing; nothing is applied or deleted while set'),
    secretRef: LocalSecretRef.optional().describe('Credentials: username + password (or token as password), bearerToken, or identity + known_hosts for ssh'),
    webhook: z
      .object({
        secretRef: z.object({ name: name(), key: z.string().min(1).max(253).optional().describe('Key in the Secret (default "token")') }),
      })
      .optional()
      .describe('Accept push events for this GitSync, signed with the secret in this Secret key'),
    targetNamespace: namespaceName().optional().describe('Namespace for namespaced objects that name none (default: the GitSync namespace)'),
    allowedNamespaces: z
      .array(namespaceName())
      .max(64)
      .optional()
      .describe('Namespaces objects may be applied in (default: the target namespace); more than the GitSync namespace needs the controller to allow it'),
    timeout: Duration.optional().describe("Timeout of each git operation (default 60s); a whole sync has the controller's deadline (default 5m)"),
    serviceAccountName: name()
      .optional()
      .describe(
        `ServiceAccount in the GitSync namespace whose rights the sync has: it reads the credentials Secret and reads, ` +
          `dry-runs, applies and prunes objects as it (impersonation). Default: the controller's default (${DEFAULT_GITSYNC_SERVICE_ACCOUNT})`,
      ),
  })
  .meta({
    'x-kubernetes-validations': [{ rule: '!(has(self.interval) && has(self.schedule))', message: 'set interval or schedule, not both' }],
  });
export type GitSyncSpec = z.infer<typeof GitSyncSpec>;

export const InventoryEntry = z.object({
  apiVersion: z.string(),
  kind: z.string(),
  namespace: z.string().optional(),
  name: z.string(),
});
export type InventoryEntry = z.infer<typeof InventoryEntry>;

export const SyncError = z.object({
  reason: z.string().describe('A CamelCase reason, e.g. InvalidManifest, FetchFailed, DryRunFailed'),
  message: z.string(),
  file: z.string().optional().describe('Path of the file in the repository'),
  document: z.number().int().min(1).optional().describe('1-based index of the YAML document in the file'),
  line: z.number().int().min(1).optional().describe('1-based line in the file (of the failing field when known)'),
  column: z.number().int().min(1).optional().describe('1-based column in the line (of the failing field when known)'),
  commit: z.string().optional(),
});
export type SyncError = z.infer<typeof SyncError>;

export const GitSyncStatus = z.object({
  observedGeneration: z.number().int().optional(),
  lastSyncedCommit: z.string().optional().describe('Commit whose manifests were last applied in full'),
  lastSyncTime: z.string().optional(),
  lastAttemptedCommit: z.string().optional(),
  lastAttemptTime: z.string().optional(),
  lastError: SyncError.optional().describe('Why the last attempt failed; absent after a successful sync'),
  inventory: z.array(InventoryEntry).optional().describe('Objects this GitSync applied and may prune'),
  nextSyncAt: z.string().optional().describe('When the next sync is due (after sync windows)'),
  lastHandledSyncRequest: z.string().optional().describe(`Value of the ${SYNC_REQUESTED_ANNOTATION} annotation last acted on`),
  conditions: z.array(Condition).optional(),
});
export type GitSyncStatus = z.infer<typeof GitSyncStatus>;

export const GitSync = z.object({
  apiVersion: z.string(),
  kind: z.literal('GitSync'),
  metadata: ObjectMeta,
  spec: GitSyncSpec,
  status: GitSyncStatus.optional(),
});
export type GitSync = z.infer<typeof GitSync>;
