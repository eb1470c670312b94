// GitSync metrics from the GitSync cache: when it last synced in full, whether it is failing,
// and the commit it is on. A deleted GitSync's series are removed.
import { Gauge, type Registry } from 'prom-client';
import { GitSyncStatus } from '../../api/git-sync.ts';
import { getCondition } from '../../core/shared/conditions.ts';
import type { Informer, KubeObject } from '../../ports/kube.ts';
import { removeSeries } from '../runtime/remove-series.ts';

export function watchGitSyncMetrics(registry: Registry, gitSyncs: Informer): void {
  const labelNames = ['namespace', 'gitsync'];
  const lastSuccess = new Gauge({
    name: 'sluice_gitsync_last_success_timestamp_seconds',
    help: 'When the GitSync last applied a commit in full (Unix seconds)',
    labelNames,
    registers: [registry],
  });
  const failing = new Gauge({
    name: 'sluice_gitsync_failing',
    help: '1 while the GitSync is not Ready (its last sync failed)',
    labelNames,
    registers: [registry],
  });
  const info = new Gauge({
    name: 'sluice_gitsync_info',
    help: 'Always 1: the commit last applied in full and the last one attempted',
    labelNames: [...labelNames, 'commit', 'attempted_commit'],
    registers: [registry],
  });
  const lastInfo = new Map<string, Record<string, string>>();
  const update = (obj: KubeObject) => {
    const labels = { namespace: obj.metadata?.namespace ?? '', gitsync: obj.metadata?.name ?? '' };
    const parsed = GitSyncStatus.safeParse((obj as { status?: unknown }).status ?? {});
    if (!parsed.success) return;
    const s = parsed.data;
    const synced = s.lastSyncTime ? Date.parse(s.lastSyncTime) : Number.NaN;
    if (Number.isFinite(synced)) lastSuccess.set(labels, synced / 1000);
    const ready = getCondition(s.conditions, 'Ready');
    if (ready) failing.set(labels, ready.status === 'True' ? 0 : 1);
    const next = { ...labels, commit: s.lastSyncedCommit ?? '', attempted_commit: s.lastAttemptedCommit ?? '' };
    const key = `${labels.namespace}/${labels.gitsync}`;
    const old = lastInfo.get(key);
    if (old && JSON.stringify(old) !== JSON.stringify(next)) info.remove(old);
    lastInfo.set(key, next);
    info.set(next, 1);
  };
  gitSyncs.onChange((type, obj) => {
    if (type === 'DELETED') {
      lastInfo.delete(`${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`);
      for (const m of [lastSuccess, failing, info]) void removeSeries(m, { namespace: obj.metadata?.namespace ?? '', gitsync: obj.metadata?.name ?? '' });
      return;
    }
    update(obj);
  });
}
