// Helpers for GitSync scenarios: the GitSync manifest, snapshots of its status and Events,
// "sync now" through the sync-requested annotation (what `kubectl sluice sync` writes), and
// push-webhook requests signed the way GitHub, GitLab and the generic receiver expect.
//
//   await k.apply(manifest(gitSync('apps', { url: repo.httpUrl, paths: ['apps'] })), { namespace: ns });
//   const g = await waitGitSync(k, ns, 'apps', 'synced', (g) => assert.equal(g.status.lastSyncedCommit, sha));
//   await syncNow(k, ns, 'apps');
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import type { Kubectl } from './kubectl.ts';
import { waitFor } from './wait.ts';

type Obj = Record<string, any>;

export const SYNC_REQUESTED_ANNOTATION = 'sluice.dev/sync-requested-at';
export const GIT_REVISION_ANNOTATION = 'sluice.dev/git-revision';
export const GIT_SYNC_ANNOTATION = 'sluice.dev/git-sync';
export const GIT_SYNC_FIELD_MANAGER = 'sluice-gitsync';

/** The ServiceAccount a GitSync runs as when its spec names none (the controller's default). */
export const DEFAULT_GITSYNC_SERVICE_ACCOUNT = 'sluice-gitsync';

/** What the GitSync scenarios apply: their Services, ConfigMaps, Rollouts, AnalysisTemplates; HPAs are listed; credentials read. */
export const GITSYNC_RULES: Obj[] = [
  { apiGroups: [''], resources: ['configmaps', 'services'], verbs: ['get', 'list', 'create', 'patch', 'delete'] },
  { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
  { apiGroups: ['sluice.dev'], resources: ['rollouts', 'analysistemplates'], verbs: ['get', 'list', 'create', 'patch', 'delete'] },
  { apiGroups: ['autoscaling'], resources: ['horizontalpodautoscalers'], verbs: ['list'] },
];

/**
 * A ServiceAccount for GitSyncs and a Role + RoleBinding with `rules` (what a namespace owner
 * grants: a GitSync applies with these rights only, through impersonation).
 */
export function gitSyncAccess(serviceAccount = DEFAULT_GITSYNC_SERVICE_ACCOUNT, rules: Obj[] = GITSYNC_RULES, role = `${serviceAccount}-apply`): Obj[] {
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: serviceAccount } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: role }, rules },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: role },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role },
      subjects: [{ kind: 'ServiceAccount', name: serviceAccount }],
    },
  ];
}

/** 1-based line and column of the `nth` (1-based) occurrence of `needle` in `text`. */
export function positionIn(text: string, needle: string, nth = 1): { line: number; column: number } {
  let at = -1;
  for (let i = 0; i < nth; i++) {
    at = text.indexOf(needle, at + 1);
    if (at < 0) throw new Error(`"${needle}" (occurrence ${nth}) not in the text`);
  }
  const before = text.slice(0, at).split('\n');
  return { line: before.length, column: (before.at(-1) as string).length + 1 };
}

/** A GitSync object (applied with kubectl into the scenario's namespace). */
export function gitSync(name: string, spec: Obj): Obj {
  return { apiVersion: 'sluice.dev/v1alpha1', kind: 'GitSync', metadata: { name }, spec };
}

export interface GitSyncView extends Obj {
  metadata: Obj;
  spec: Obj;
  status: Obj;
}

export async function getGitSync(k: Kubectl, ns: string, name: string): Promise<GitSyncView> {
  const g = await k.json<GitSyncView>(['get', 'gitsyncs.sluice.dev', name, '-n', ns]);
  g.status ??= {};
  return g;
}

/** The condition of this type, or undefined. */
export function condition(g: GitSyncView, type: string): Obj | undefined {
  return (g.status.conditions ?? []).find((c: Obj) => c.type === type);
}

/** A one-line summary of a GitSync's status, for assertion messages. */
export function gitSyncSummary(g: GitSyncView): string {
  const s = g.status;
  const conds = (s.conditions ?? []).map((c: Obj) => `${c.type}=${c.status}(${c.reason})`).join(' ');
  const err = s.lastError ? ` lastError=${JSON.stringify(s.lastError)}` : '';
  return (
    `synced=${short(s.lastSyncedCommit)} attempted=${short(s.lastAttemptedCommit)} next=${s.nextSyncAt ?? '-'} ` +
    `handled=${s.lastHandledSyncRequest ?? '-'} requested=${g.metadata.annotations?.[SYNC_REQUESTED_ANNOTATION] ?? '-'} ` +
    `${conds} inventory=${(s.inventory ?? []).map((i: Obj) => `${i.kind}/${i.name}`).join(',')}${err}`
  );
}

const short = (sha: string | undefined) => (sha ? sha.slice(0, 10) : '-');

/** Polls the GitSync until `fn` stops throwing; the last summary is in the timeout message. */
export async function waitGitSync(
  k: Kubectl,
  ns: string,
  name: string,
  describe: string,
  fn: (g: GitSyncView) => void,
  timeoutMs = 30_000,
): Promise<GitSyncView> {
  let last = '';
  try {
    return await waitFor(
      describe,
      async () => {
        const g = await getGitSync(k, ns, name);
        last = gitSyncSummary(g);
        fn(g);
        return g;
      },
      { timeoutMs, intervalMs: 250 },
    );
  } catch (err) {
    (err as Error).message += `\n  last seen: ${last}`;
    throw err;
  }
}

/** Sets the sync-requested annotation to a new value (as `kubectl sluice sync` does); returns the value. */
export async function syncNow(k: Kubectl, ns: string, name: string): Promise<string> {
  const value = `${new Date().toISOString()}-${randomUUID().slice(0, 6)}`;
  await k.ok(['annotate', 'gitsyncs.sluice.dev', name, '-n', ns, `${SYNC_REQUESTED_ANNOTATION}=${value}`, '--overwrite']);
  return value;
}

/** Asks for a sync and waits until the GitSync has acted on that request (successfully or not). */
export async function syncAndWait(k: Kubectl, ns: string, name: string, timeoutMs = 30_000): Promise<GitSyncView> {
  const value = await syncNow(k, ns, name);
  return waitGitSync(k, ns, name, `sync request ${value} handled`, (g) => assert.equal(g.status.lastHandledSyncRequest, value), timeoutMs);
}

export interface GitSyncEvent {
  reason: string;
  message: string;
  type: string;
  resourceVersion: number;
}

/** Events about one GitSync, in the order they were written. */
export async function gitSyncEvents(k: Kubectl, ns: string, name: string): Promise<GitSyncEvent[]> {
  const list = await k.json<{ items: Obj[] }>(['get', 'events', '-n', ns, '--field-selector', `involvedObject.kind=GitSync,involvedObject.name=${name}`]);
  return list.items
    .map((e) => ({ reason: e.reason, message: e.message, type: e.type, resourceVersion: Number(e.metadata.resourceVersion) }))
    .sort((a, b) => a.resourceVersion - b.resourceVersion);
}

/** Waits for an Event with this reason (and message part) about the GitSync; returns all its Events. */
export async function waitGitSyncEvent(
  k: Kubectl,
  ns: string,
  name: string,
  reason: string,
  messagePart?: string | RegExp,
  timeoutMs = 20_000,
): Promise<GitSyncEvent[]> {
  const matches = (m: string) => messagePart === undefined || (typeof messagePart === 'string' ? m.includes(messagePart) : messagePart.test(m));
  return waitFor(
    `event ${reason}${messagePart ? ` "${messagePart}"` : ''} on GitSync ${ns}/${name}`,
    async () => {
      const evs = await gitSyncEvents(k, ns, name);
      assert.ok(
        evs.some((e) => e.reason === reason && matches(e.message)),
        `events so far: ${evs.map((e) => `${e.type} ${e.reason}: ${e.message}`).join(' | ')}`,
      );
      return evs;
    },
    { timeoutMs, intervalMs: 300 },
  );
}

/** `sha256=<hex HMAC-SHA256 of body>`: the X-Hub-Signature-256 / X-Sluice-Signature-256 value. */
export function hmacSignature(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export interface HookReply {
  status: number;
  body: string;
}

/** POSTs (or `method`s) a webhook request to the controller's receiver. */
export async function postHook(baseUrl: string, ns: string, name: string, body: string, headers: Record<string, string>, method = 'POST'): Promise<HookReply> {
  const r = await fetch(`${baseUrl}/hooks/gitsync/${ns}/${name}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(method === 'GET' ? {} : { body }),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: r.status, body: await r.text() };
}

/** A GitHub push event body (the fields a receiver looks at). */
export function githubPushBody(repoUrl: string, after: string, ref = 'refs/heads/main'): string {
  return JSON.stringify({ ref, after, repository: { clone_url: repoUrl, full_name: 'e2e/apps' }, pusher: { name: 'E2E Person' } });
}

/**
 * Watches the GitSync for `ms` and fails as soon as `fn` throws: for "this does not happen"
 * checks (nothing is applied while a window denies syncs).
 */
export async function gitSyncHolds(k: Kubectl, ns: string, name: string, describe: string, fn: (g: GitSyncView) => void, ms: number): Promise<GitSyncView> {
  const end = Date.now() + ms;
  let g: GitSyncView;
  do {
    g = await getGitSync(k, ns, name);
    try {
      fn(g);
    } catch (err) {
      (err as Error).message = `expected ${describe} for ${ms}ms, but: ${(err as Error).message}\n  seen: ${gitSyncSummary(g)}`;
      throw err;
    }
    await new Promise((r) => setTimeout(r, 250));
  } while (Date.now() < end);
  return g;
}

export interface WatchedChange {
  type: string;
  name: string;
  resourceVersion: string;
  /** The Service's spec.selector as written at that resourceVersion. */
  selector: Record<string, string>;
}

export interface ServiceWatch {
  /** Every change seen so far, in order (the first ones are ADDED for what existed). */
  changes: WatchedChange[];
  /** Waits until the watch has delivered the current state of these Services (no change in flight). */
  caughtUp(names: string[], timeoutMs?: number): Promise<void>;
  stop(): Promise<WatchedChange[]>;
}

/**
 * `kubectl get services -w` in the namespace: records every version of every Service, so a
 * transient write (a selector removed and put back a moment later) cannot go unseen between
 * two polls. Resolves once the initial list has been delivered for `names`.
 */
export async function watchServices(k: Kubectl, ns: string, names: string[]): Promise<ServiceWatch> {
  const child = spawn(
    'kubectl',
    [
      'get',
      'services',
      '-n',
      ns,
      '-w',
      '--output-watch-events',
      '-o',
      'jsonpath={.type}{"|"}{.object.metadata.name}{"|"}{.object.metadata.resourceVersion}{"|"}{.object.spec.selector}{"\\n"}',
    ],
    { env: k.env(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const changes: WatchedChange[] = [];
  let buffer = '';
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
  child.stdout.on('data', (b: Buffer) => {
    buffer += b.toString('utf8');
    let i: number;
    while ((i = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      // `|` separates the fields: kubectl runs its output through a tabwriter, which holds back lines with tabs
      const [type, name, resourceVersion, ...rest] = line.split('|');
      const selector = rest.join('|');
      if (!type || !name) continue;
      changes.push({ type, name, resourceVersion: resourceVersion ?? '', selector: selector ? JSON.parse(selector) : {} });
    }
  });
  const exited = new Promise<void>((res) => child.on('close', () => res()));
  const w: ServiceWatch = {
    changes,
    async caughtUp(want, timeoutMs = 15_000) {
      const list = await k.json<{ items: Array<{ metadata: { name: string; resourceVersion: string } }> }>(['get', 'services', '-n', ns]);
      const current = new Map(list.items.map((o) => [o.metadata.name, o.metadata.resourceVersion]));
      await waitFor(
        `service watch caught up with ${want.join(', ')}`,
        () => {
          for (const n of want) {
            assert.ok(
              changes.some((c) => c.name === n && c.resourceVersion === current.get(n)),
              `${n}@${current.get(n)} not seen yet (stderr: ${stderr.trim()})`,
            );
          }
          return true;
        },
        { timeoutMs, intervalMs: 100 },
      );
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
      return changes;
    },
  };
  try {
    await w.caughtUp(names);
  } catch (err) {
    await w.stop();
    throw err;
  }
  return w;
}
