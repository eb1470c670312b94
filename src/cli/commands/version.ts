// kubectl sluice version: the plugin's version and the controller's, read from its Deployment
// (the app.kubernetes.io/version label, else the image tag) or its metrics (sluice_build_info).
// When neither can be found it says so; it never guesses.
import { Option, type Command } from 'commander';
import type { KubeObject, ResourceKind } from '../../ports/kube.ts';
import { VERSION } from '../../version.ts';
import { kubeFailure } from '../connect.ts';
import { parseOutput, serialise, type Runtime } from './runtime.ts';

const deployments: ResourceKind = { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespaced: true };
/** The label the Helm chart and the install manifests put on the controller's Deployment. */
export const CONTROLLER_SELECTOR = 'app.kubernetes.io/name=sluice';

interface ControllerVersion {
  version: string | null;
  source: string;
}

type Obj = Record<string, any>;

/** The version a Deployment says it runs: its app.kubernetes.io/version label, else its image's tag. */
export function deploymentVersion(d: KubeObject): ControllerVersion {
  const where = `Deployment ${d.metadata?.namespace}/${d.metadata?.name}`;
  const label = d.metadata?.labels?.['app.kubernetes.io/version'];
  if (label) return { version: label, source: `${where}, label app.kubernetes.io/version` };
  const containers: Obj[] = (d as Obj).spec?.template?.spec?.containers ?? [];
  const container = containers.find((c) => c.name === 'sluice' || c.name === 'controller') ?? containers[0];
  const image = String(container?.image ?? '');
  const tag = /^[^@]*:([^/:@]+)$/.exec(image)?.[1];
  if (tag && tag !== 'latest') return { version: tag, source: `${where}, image ${image}` };
  return { version: null, source: `${where}: no app.kubernetes.io/version label and the image ${image || '(none)'} has no version tag` };
}

/** The version in a Prometheus text exposition: sluice_build_info{version="…"}. */
export function metricsVersion(text: string): string | undefined {
  const line = text.split('\n').find((l) => l.startsWith('sluice_build_info{'));
  return line ? /version="([^"]*)"/.exec(line)?.[1] : undefined;
}

export function registerVersion(program: Command, rt: Runtime): void {
  program
    .command('version')
    .summary("print the plugin's and the controller's versions")
    .description(
      `The plugin's version, and the controller's: from the Deployment labelled ${CONTROLLER_SELECTOR} (its app.kubernetes.io/version label or image ` +
        "tag), or with --metrics-url from the controller's metrics (sluice_build_info). A controller that cannot be found is reported as not found.",
    )
    .option('--controller-namespace <namespace>', 'look for the controller Deployment only in this namespace (default: all namespaces)')
    .option('--metrics-url <url>', "read the version from the controller's metrics endpoint, e.g. http://127.0.0.1:8080/metrics")
    .option('--client', 'only the plugin: do not contact the cluster')
    .addOption(new Option('-o, --output <format>', 'json or yaml'))
    .addHelpText('after', '\nExamples:\n  kubectl sluice version\n  kubectl sluice version --metrics-url http://127.0.0.1:8080/metrics -o json')
    .action(async (opts: { controllerNamespace?: string; metricsUrl?: string; client?: boolean; output?: string }) => {
      const output = parseOutput(opts.output, ['json', 'yaml']);
      const plugin = { version: VERSION, node: process.version };
      const controllers = opts.client ? [] : await findControllers(rt, opts);
      if (output === 'json' || output === 'yaml') {
        rt.out(serialise({ plugin, ...(opts.client ? {} : { controllers }) }, output));
        return;
      }
      rt.out(`Plugin:      kubectl-sluice ${plugin.version} (Node.js ${plugin.node})\n`);
      if (opts.client) return;
      for (const c of controllers) rt.out(`Controller:  ${c.version ?? 'unknown'} (${c.source})\n`);
    });
}

async function findControllers(rt: Runtime, opts: { controllerNamespace?: string; metricsUrl?: string }): Promise<ControllerVersion[]> {
  if (opts.metricsUrl) {
    if (!rt.io.fetchText) return [{ version: null, source: `cannot fetch ${opts.metricsUrl} here` }];
    try {
      const version = metricsVersion(await rt.io.fetchText(opts.metricsUrl));
      return [
        version
          ? { version, source: `${opts.metricsUrl}, sluice_build_info` }
          : { version: null, source: `${opts.metricsUrl} has no sluice_build_info metric` },
      ];
    } catch (err) {
      return [{ version: null, source: `cannot read ${opts.metricsUrl}: ${(err as Error).message}` }];
    }
  }
  const { kube } = await rt.connect();
  let found: KubeObject[];
  try {
    found = await kube.list(deployments, opts.controllerNamespace, CONTROLLER_SELECTOR);
  } catch (err) {
    const failure = kubeFailure(err, 'listing Deployments');
    return [{ version: null, source: `not found: ${failure.message}` }];
  }
  if (found.length === 0) {
    const where = opts.controllerNamespace ? `namespace ${opts.controllerNamespace}` : 'any namespace';
    return [
      {
        version: null,
        source: `not found: no Deployment labelled ${CONTROLLER_SELECTOR} in ${where}; for a controller running outside the cluster use --metrics-url`,
      },
    ];
  }
  return found.map(deploymentVersion);
}
