// `npm run demo`: Sluice on a local Kubernetes control plane, live in the terminal.
//
// Starts the e2e environment (Kubernetes v1.35 built from source on first use, kwok nodes,
// Prometheus, …; see e2e/README.md) and the Sluice controller, applies a canary Rollout
// (5 replicas, steps with short pauses), waits until it is Healthy, changes its image and
// prints one line per change as the canary advances. Then it leaves everything running,
// prints how to use it with kubectl, and keeps showing changes (yours too) until Ctrl-C,
// which stops everything it started.
//
//   npm run demo
//   E2E_ENV=/tmp/sluice-e2e-…/env.json npm run demo    # use an environment `node e2e/run.ts up` started
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { attach, type AttachedEnv } from './harness/attach.ts';
import type { ControllerHandle } from './harness/controller.ts';
import { kubectlBin } from './harness/kubectl.ts';
import { startEnv, type Env } from './harness/env.ts';
import { log, onShutdown, repoRoot, run } from './harness/proc.ts';
import { canaryRollout, canaryServices, manifest, rolloutEvents, view, type View } from './harness/rollouts.ts';

const NS = 'sluice-demo';
const NAME = 'demo';
const STEPS = [
  { setWeight: 20 },
  { pause: { duration: '5s' } },
  { setWeight: 40 },
  { pause: { duration: '5s' } },
  { setWeight: 60 },
  { pause: { duration: '5s' } },
  { setWeight: 80 },
  { pause: { duration: '5s' } },
];

const tty = process.stdout.isTTY === true;
const paint = (code: string) => (s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
const bold = paint('1');
const dim = paint('2');
const phaseColor: Record<string, (s: string) => string> = {
  Healthy: paint('32'),
  Progressing: paint('36'),
  Paused: paint('33'),
  Degraded: paint('31'),
};

function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function clock(): string {
  return new Date().toTimeString().slice(0, 8);
}

/** One compact line for the state of the Rollout: step, phase, weights, ReplicaSets, message. */
function line(v: View): { key: string; text: string } {
  const s = v.rollout.status;
  const steps = s.stepCount ?? STEPS.length;
  const step = s.currentStepIndex === undefined ? '-' : `${Math.min(s.currentStepIndex + 1, steps)}/${steps}`;
  const phase = (s.phase ?? '-') as string;
  const weight = `${s.desiredWeight ?? '-'}/${s.actualWeight ?? '-'}%`;
  const sets = v.replicaSets
    .filter((r) => r.spec > 0 || r.current > 0 || r.hash === s.stableRS || r.hash === s.currentPodHash)
    .map((r) => {
      const role = !s.stableRS ? 'new' : r.hash === s.stableRS ? 'stable' : r.hash === s.currentPodHash ? 'canary' : 'old';
      return `${r.image.split(':').pop()}(${role}) ${r.ready}/${r.spec}`;
    })
    .join('  ');
  const message = String(s.message ?? '');
  const key = [step, phase, weight, sets, message].join('|');
  const width = tty ? Math.max(40, (process.stdout.columns ?? 160) - 1) : 1000;
  const plain = `${clock()}  step ${step.padEnd(5)} ${phase.padEnd(11)} weight ${weight.padEnd(8)} ${sets.padEnd(34)} ${message}`;
  const cut = plain.length > width ? `${plain.slice(0, width - 1)}…` : plain;
  return { key, text: cut.replace(phase.padEnd(11), (phaseColor[phase] ?? ((x: string) => x))(phase.padEnd(11))) };
}

/**
 * Prints a line whenever the Rollout's state changes, and each new Event under it.
 * Resolves when `until` holds (or never, without one).
 */
async function follow(k: AttachedEnv['kubectl'], until?: (v: View) => boolean, deadlineMs = 10 * 60_000): Promise<View> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (stopping) return new Promise<never>(() => {});
    let v: View | undefined;
    try {
      v = await view(k, NS, NAME);
      const l = line(v);
      if (v.rollout.status.phase === undefined) {
        if (lastKey === '') out(dim(`${clock()}  waiting for the controller's first status…`));
        lastKey = 'no status';
      } else if (l.key !== lastKey) {
        out(l.text);
        lastKey = l.key;
      }
      const events = await rolloutEvents(k, NS, NAME);
      for (const e of events) {
        if (e.resourceVersion <= lastEvent) continue;
        lastEvent = e.resourceVersion;
        const text = `          ${e.type === 'Warning' ? '⚠' : '•'} ${e.reason}: ${e.message}`;
        out(e.type === 'Warning' ? paint('31')(text) : dim(text));
      }
    } catch (err) {
      if (stopping) continue;
      const msg = (err as Error).message.split('\n')[0] ?? '';
      if (msg !== lastError) out(dim(`${clock()}  (could not read the Rollout: ${msg})`));
      lastError = msg;
    }
    if (v && until?.(v)) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting after ${deadlineMs / 1000}s; last state: ${lastKey}`);
    if (controller && !controller.isRunning() && !controllerDownReported && !stopping) {
      controllerDownReported = true;
      out(paint('31')(`${clock()}  the Sluice controller exited (${await controller.exited()}); its log: ${controller.logFile}`));
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

let lastKey = '';
let lastEvent = 0;
let lastError = '';
let controller: ControllerHandle | undefined;
let controllerDownReported = false;
let env: Env | undefined;
let stopping = false;
let stopDemo = async (): Promise<void> => {};
const stopEnvironment = async (): Promise<void> => {
  await env?.stop();
};

function healthyOn(image: string) {
  return (v: View) => {
    const s = v.rollout.status;
    const rs = v.rs[s.stableRS];
    return s.phase === 'Healthy' && s.observedGeneration === v.rollout.metadata.generation && rs?.image === image && rs.available === rs.spec;
  };
}

/**
 * `kubectl sluice` for the shell the demo prints commands for: shims in dist/bin that run the
 * built plugin (npm run demo builds it) on this Node 24, whatever Node the system has.
 * Undefined when nothing is built.
 */
function pluginShims(): string | undefined {
  const dist = join(repoRoot, 'dist');
  if (!existsSync(join(dist, 'cli', 'kubectl-sluice.js'))) return undefined;
  const bin = join(dist, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const [name, file] of [
    ['kubectl-sluice', 'kubectl-sluice.js'],
    ['kubectl_complete-sluice', 'kubectl-complete-sluice.js'],
  ] as const) {
    writeFileSync(join(bin, name), `#!/bin/sh\nexec "${process.execPath}" "${join(dist, 'cli', file)}" "$@"\n`, { mode: 0o755 });
  }
  return bin;
}

async function main(): Promise<void> {
  out(bold('Sluice demo: a canary rollout on a local Kubernetes control plane'));
  out(dim('(the first run builds Kubernetes from source, about 7 minutes on 2 cores; later runs start in seconds)'));
  out();

  // 1. the environment: the one E2E_ENV names, or a new one owned (and stopped) by this process
  let descriptorPath = process.env.E2E_ENV;
  if (descriptorPath) {
    log('demo', `using the running environment ${descriptorPath}`);
  } else {
    const deps = await run('bash', [join(repoRoot, 'e2e', 'setup-deps.sh')], { timeoutMs: 15 * 60_000 });
    if (deps.stderr.trim()) process.stderr.write(deps.stderr.endsWith('\n') ? deps.stderr : `${deps.stderr}\n`);
    if (deps.code !== 0) throw new Error(`e2e/setup-deps.sh exited ${deps.code}`);
    onShutdown(stopEnvironment);
    env = await startEnv();
    descriptorPath = env.descriptorPath;
  }
  const e = attach(descriptorPath);
  const k = e.kubectl;

  // 2. the controller, stopped first on Ctrl-C; the demo namespace goes with an environment we don't own
  stopDemo = async () => {
    stopping = true;
    log('demo', 'stopping the controller' + (env ? ' and the environment' : ''));
    if (!env) {
      // the Rollout first, while the controller can still remove its finalizer
      await k.run(['delete', 'rollouts.sluice.dev', '--all', '-n', NS, '--wait=true', '--timeout=20s']);
      await k.run(['delete', 'namespace', NS, '--wait=false', '--ignore-not-found']);
    }
    await controller?.stop(5000);
  };
  onShutdown(() => stopDemo());
  // In an environment somebody else owns (scenarios may run their own controller there),
  // this controller keeps to the demo namespace.
  controller = await e.startController(env ? {} : { name: 'demo', args: ['--namespace', NS] });
  log('demo', `controller running (pid ${controller.pid()}, log ${controller.logFile})`);

  // 3. the sample Rollout, Healthy on v1
  if ((await k.run(['get', 'namespace', NS])).code === 0) {
    log('demo', `deleting the namespace ${NS} left from an earlier demo`);
    await k.run(['delete', 'rollouts.sluice.dev', '--all', '-n', NS, '--wait=true', '--timeout=30s']);
    await k.ok(['delete', 'namespace', NS, '--wait=true', '--timeout=120s'], { timeoutMs: 130_000 });
  }
  await k.ok(['create', 'namespace', NS]);
  const rollout = canaryRollout({ name: NAME, replicas: 5, image: 'example/demo:v1', steps: STEPS });
  await k.apply(manifest(canaryServices(NAME), rollout), { namespace: NS });
  out();
  out(bold(`Applied Rollout ${NS}/${NAME}: 5 replicas of example/demo:v1, canary steps:`));
  out(`  ${STEPS.map((s) => ('setWeight' in s ? `setWeight ${s.setWeight}` : `pause ${s.pause?.duration}`)).join(' → ')}`);
  out(dim('  columns: time, step, phase, desired/actual canary weight, ReplicaSets as image(role) ready/desired, message'));
  out();
  await follow(k, healthyOn('example/demo:v1'), 120_000);

  // 4. a new version, live
  out();
  out(bold('Changing the image to example/demo:v2 — watch the canary advance:'));
  await k.ok([
    'patch',
    'rollout',
    NAME,
    '-n',
    NS,
    '--type=json',
    '-p',
    JSON.stringify([{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'example/demo:v2' }]),
  ]);
  const t0 = Date.now();
  const done = await follow(k, healthyOn('example/demo:v2'), 300_000);
  assert.equal(done.rollout.status.phase, 'Healthy');
  out();
  out(bold(`v2 is stable after ${((Date.now() - t0) / 1000).toFixed(0)}s.`) + ' Everything keeps running; try it from another terminal:');
  out();
  // kubectl of the cluster's minor version (the machine's may be older and warn on every call), and
  // the plugin from this repository (npm run demo built it) as `kubectl sluice`.
  const kubectlDir = dirname(kubectlBin());
  const pluginDir = pluginShims();
  out(`  export KUBECONFIG=${e.kubeconfig}`);
  out(`  export PATH=${pluginDir ? `${pluginDir}:` : ''}${kubectlDir === '.' ? '' : `${kubectlDir}:`}$PATH   ${dim('# kubectl 1.35 and kubectl sluice')}`);
  out(`  kubectl sluice get rollout ${NAME} -n ${NS} --watch     ${dim('# the tree, redrawn as it changes')}`);
  out(`  kubectl sluice set image ${NAME} app=example/demo:v3 -n ${NS}     ${dim('# a new version')}`);
  out(`  kubectl sluice promote ${NAME} -n ${NS}     ${dim('# out of a pause (--full: skip the remaining steps)')}`);
  out(`  kubectl sluice abort ${NAME} -n ${NS}     ${dim('# all traffic back to stable')}`);
  out(`  kubectl sluice pause ${NAME} -n ${NS}; kubectl sluice resume ${NAME} -n ${NS}`);
  out(`  kubectl -n ${NS} get rollouts,replicasets,pods,services -o wide`);
  out(`  kubectl -n ${NS} scale rollout ${NAME} --replicas=8`);
  out();
  out(`  Controller log: ${controller.logFile}`);
  out(`  Prometheus:     ${e.descriptor.prometheus.url}   (the controller is scraped as job "${env ? 'sluice' : 'sluice-demo'}", e.g. sluice_rollout_weight)`);
  if (env) out(`  All logs:       ${e.descriptor.logsDir}`);
  out();
  out(
    bold(
      env ? 'Press Ctrl-C to stop everything (controller, Kubernetes, Prometheus, …).' : 'Press Ctrl-C to stop the controller and delete the demo namespace.',
    ),
  );
  out(dim('Changes to the Rollout keep showing below.'));
  out();
  await follow(k, undefined, Number.MAX_SAFE_INTEGER);
}

main().catch(async (err: Error) => {
  log('demo', `failed: ${err.stack ?? err.message}`);
  if (controller) process.stderr.write(`controller log tail (${controller.logFile}):\n${controller.logTail(20)}\n`);
  await stopDemo().catch(() => {});
  await stopEnvironment().catch(() => {});
  process.exit(1);
});
