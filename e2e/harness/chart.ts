// The Helm chart on the e2e cluster: its ServiceAccount and RBAC applied for real, a token for
// that ServiceAccount (`kubectl create token`) in a kubeconfig of its own, and the controller's
// command line taken from the rendered Deployment. A scenario then starts the controller as the
// chart would run it, with the chart's permissions instead of the admin certificate:
//
//   const id = await installChartIdentity(env, { scope: 'namespace', watchNamespace: ns });
//   const ctl = await env.startController({ kubeconfig: id.kubeconfig, args: id.controllerArgs(), healthPath: '/readyz' });
//   ... assert.deepEqual(ctl.forbidden(), []);
//   await id.uninstall();
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { controllerArgs, controllerHasLeaderElection, renderChart, type Manifest } from '../../test/helpers/chart.ts';
import type { AttachedEnv } from './attach.ts';
import { freePort, log } from './proc.ts';

const IDENTITY_KINDS = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);

export interface ChartIdentityOptions {
  /** cluster: ClusterRole; namespace: Role in watchNamespace and --namespace. */
  scope: 'cluster' | 'namespace';
  /** The namespace served in namespace scope (default: the release namespace). */
  watchNamespace?: string;
  /** Release name (default: a unique one, so cluster-scoped names do not collide). */
  release?: string;
  /** Namespace of the release (created; default `<release>-system`). */
  releaseNamespace?: string;
  /** Chart values on top of the scope's. */
  values?: Record<string, unknown>;
}

export interface ChartIdentity {
  release: string;
  releaseNamespace: string;
  serviceAccount: string;
  /** A kubeconfig with the ServiceAccount's token (no client certificate). */
  kubeconfig: string;
  /** Everything the chart rendered. */
  objects: Manifest[];
  /** The objects applied to the cluster (ServiceAccount and RBAC). */
  applied: Manifest[];
  /**
   * The rendered Deployment's controller arguments for a process on this machine: listen
   * addresses on loopback (the metrics and health ones are left to the harness), the Git cache
   * under `gitCacheDir`, log level debug. Leader-election flags stay out while the controller lacks them.
   */
  controllerArgs(gitCacheDir: string): Promise<{ args: string[]; webhookAddr?: string }>;
  /** Deletes what was applied and the release namespace. */
  uninstall(): Promise<void>;
}

/** The chart's values for a run on the e2e cluster: one replica without leader election until the controller has it. */
export function e2eValues(scope: 'cluster' | 'namespace', watchNamespace?: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ...(controllerHasLeaderElection() ? {} : { replicaCount: 1, leaderElection: { enabled: false } }),
    watch: { scope, ...(watchNamespace ? { namespace: watchNamespace } : {}) },
    ...extra,
  };
}

export async function installChartIdentity(env: AttachedEnv, o: ChartIdentityOptions): Promise<ChartIdentity> {
  const k = env.kubectl;
  const release = o.release ?? `e2e-${Math.random().toString(36).slice(2, 7)}`;
  const releaseNamespace = o.releaseNamespace ?? `${release}-system`;
  const objects = renderChart({ release, namespace: releaseNamespace, values: e2eValues(o.scope, o.watchNamespace, o.values) });
  const applied = objects.filter((obj) => IDENTITY_KINDS.has(obj.kind));
  const sa = applied.find((obj) => obj.kind === 'ServiceAccount');
  if (!sa) throw new Error('the chart rendered no ServiceAccount');
  await k.ok(['create', 'namespace', releaseNamespace]);
  await k.ok(['label', 'namespace', releaseNamespace, 'sluice.dev/e2e=true']);
  const yaml = applied.map((obj) => dump(obj)).join('---\n');
  const uninstall = async () => {
    await k.deleteYaml(yaml);
    await k.deleteNamespace(releaseNamespace);
  };
  try {
    await k.apply(yaml, { serverSide: true, fieldManager: 'sluice-e2e-chart' });
    const token = (await k.ok(['create', 'token', sa.metadata.name, '-n', releaseNamespace, '--duration=2h'])).trim();
    const admin = await k.json<{ clusters: Array<{ cluster: { server: string; 'certificate-authority-data'?: string } }> }>([
      'config',
      'view',
      '--raw',
      '--minify',
    ]);
    const cluster = admin.clusters[0]?.cluster;
    if (!cluster) throw new Error('the admin kubeconfig has no cluster');
    const dir = join(env.descriptor.stateDir, 'chart');
    mkdirSync(dir, { recursive: true });
    const kubeconfig = join(dir, `${release}.kubeconfig`);
    writeFileSync(
      kubeconfig,
      dump({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'e2e', cluster }],
        users: [{ name: `${release}-sa`, user: { token } }],
        contexts: [{ name: release, context: { cluster: 'e2e', user: `${release}-sa`, namespace: releaseNamespace } }],
        'current-context': release,
      }),
      { mode: 0o600 },
    );
    log('chart', `${release}: ServiceAccount ${releaseNamespace}/${sa.metadata.name} with ${o.scope}-scope RBAC (${applied.map((a) => a.kind).join(', ')})`);
    return {
      release,
      releaseNamespace,
      serviceAccount: sa.metadata.name,
      kubeconfig,
      objects,
      applied,
      async controllerArgs(gitCacheDir) {
        let webhookAddr: string | undefined;
        const out: string[] = [];
        for (const a of controllerArgs(objects)) {
          if (a.startsWith('--metrics-addr=') || a.startsWith('--health-addr=')) continue; // the harness chooses them
          if (a.startsWith('--webhook-addr=')) {
            webhookAddr = `127.0.0.1:${await freePort()}`;
            out.push(`--webhook-addr=${webhookAddr}`);
          } else if (a.startsWith('--git-cache-dir=')) out.push(`--git-cache-dir=${gitCacheDir}`);
          else if (a.startsWith('--log-level=')) out.push('--log-level=debug');
          else out.push(a);
        }
        return { args: out, ...(webhookAddr ? { webhookAddr } : {}) };
      },
      uninstall,
    };
  } catch (err) {
    await uninstall().catch(() => {});
    throw err;
  }
}
