// kubectl sluice on the real cluster, run by the real kubectl: the plugin is built as it is
// installed (`npm run build`: JavaScript, bin entries with a node shebang) and put on kubectl's
// PATH as kubectl-sluice and kubectl_complete-sluice. A canary is driven entirely through the
// plugin (status exit codes, every action), analysis is explained, a GitSync is synced with
// --wait, files are linted and converted, and --watch is read off a pseudo terminal (tmux).
// Long file (~420 lines) on purpose: every scenario shares one build of the plugin (half a
// minute on 2 cores) and one controller, which one file per plugin keeps to one.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { attach } from '../harness/attach.ts';
import type { ControllerHandle } from '../harness/controller.ts';
import { repoRoot, run, runOk, type RunResult } from '../harness/proc.ts';
import { waitFor } from '../harness/wait.ts';
import { analysisStep, errorRateTemplate } from '../harness/analysis.ts';
import { condition, getGitSync, gitSync, gitSyncAccess, positionIn, waitGitSync } from '../harness/gitops.ts';
import { assertHealthyOn, canaryRollout, canaryServices, manifest, scenario, type Scenario } from '../harness/rollouts.ts';

const env = attach();
const k = env.kubectl;
let ctl: ControllerHandle | undefined;
let build = '';
let pluginPath = '';

/** `kubectl sluice ARGS` with the built plugin on kubectl's PATH; never throws for an exit code. */
function sluice(args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return k.run(['sluice', ...args], { env: { PATH: pluginPath }, timeoutMs: opts.timeoutMs ?? 60_000, ...(opts.input ? { input: opts.input } : {}) });
}

async function sluiceOk(args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  const r = await sluice(args, opts);
  assert.equal(r.code, 0, `kubectl sluice ${args.join(' ')} exited ${r.code}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

const show = (r: RunResult) => `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;

before(async () => {
  build = mkdtempSync(join(repoRoot, '.tmp-build-e2e-'));
  // `npm run build`, into a scratch directory so that a developer's dist/ is left alone.
  await runOk(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repoRoot, 'tsconfig.build.json'), '--outDir', build], {
    timeoutMs: 180_000,
  });
  // What `npm install -g .` does with the bin entries: executable files linked from a bin directory.
  const bin = join(build, 'bin');
  mkdirSync(bin);
  for (const [name, file] of [
    ['kubectl-sluice', 'cli/kubectl-sluice.js'],
    ['kubectl_complete-sluice', 'cli/kubectl-complete-sluice.js'],
  ] as const) {
    chmodSync(join(build, file), 0o755);
    symlinkSync(join(build, file), join(bin, name));
  }
  pluginPath = `${bin}:${k.env().PATH}`;
  ctl = await env.startController();
});

after(async () => {
  await ctl?.stop();
  if (build) rmSync(build, { recursive: true, force: true });
});

async function inNamespace(prefix: string, fn: (ns: string) => Promise<void>): Promise<void> {
  const ns = await k.createNamespace(prefix);
  try {
    await env.withDiagnostics(ns, [ctl!.logFile], () => fn(ns));
  } finally {
    await k.run(['delete', 'gitsyncs.sluice.dev,rollouts.sluice.dev', '--all', '-n', ns, '--wait=true', '--timeout=30s']);
    await k.deleteNamespace(ns);
  }
}

describe('kubectl finds the plugin', () => {
  test('kubectl plugin list, kubectl sluice --help, and kubectl completion through kubectl_complete-sluice', async () => {
    const list = await k.run(['plugin', 'list'], { env: { PATH: pluginPath } });
    assert.match(list.stdout, /\/kubectl-sluice\n/);
    const help = await sluiceOk(['--help']);
    assert.match(help, /^Usage: kubectl sluice/);
    // kubectl's own completion (what `kubectl sluice pro<TAB>` asks) runs kubectl_complete-sluice.
    const completion = await k.run(['__complete', 'sluice', 'pro'], { env: { PATH: pluginPath } });
    assert.match(completion.stdout, /^promote\t/m, show(completion));
  });

  test('version: the plugin, and the controller from its metrics or its Deployment, never a guess', async () => {
    const out = await sluiceOk(['version', '--metrics-url', ctl!.metricsUrl]);
    assert.match(out, /^Plugin: +kubectl-sluice 0\.1\.0 \(Node\.js v24/m);
    assert.match(out, new RegExp(`^Controller: +0\\.1\\.0 \\(${ctl!.metricsUrl.replace(/[.?]/g, '\\$&')}, sluice_build_info\\)`, 'm'));
    await inNamespace('plugin-version', async (ns) => {
      const none = await sluiceOk(['version', '--controller-namespace', ns]);
      assert.match(none, /^Controller: +unknown \(not found: no Deployment labelled app\.kubernetes\.io\/name=sluice in namespace/m);
      await k.apply(
        manifest({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'sluice', labels: { 'app.kubernetes.io/name': 'sluice', 'app.kubernetes.io/version': '9.8.7' } },
          spec: {
            replicas: 0,
            selector: { matchLabels: { app: 'sluice-controller' } },
            template: { metadata: { labels: { app: 'sluice-controller' } }, spec: { containers: [{ name: 'sluice', image: 'example/sluice:9.8.7' }] } },
          },
        }),
        { namespace: ns },
      );
      const found = await sluiceOk(['version', '--controller-namespace', ns]);
      assert.match(found, new RegExp(`^Controller: +9\\.8\\.7 \\(Deployment ${ns}/sluice, label app\\.kubernetes\\.io/version\\)`, 'm'));
    });
  });
});

describe('a canary driven through kubectl sluice', () => {
  const steps = [{ setWeight: 50 }, { pause: {} }];

  test('status exit codes (Healthy, --success-on-pause, timeout, Degraded), and promote, pause/resume, restart, undo, abort, retry, promote --full', () =>
    inNamespace('plugin-canary', async (ns) => {
      const s = scenario(env, ns);
      await s.apply(manifest(canaryServices(), canaryRollout({ replicas: 2, steps })));
      const n = ['-n', ns];

      let r = await sluice(['status', 'demo', ...n, '--timeout', '60s']);
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, /Rollout .*\/demo is Healthy on revision 1/);
      const v1 = (await s.view()).rollout.status.stableRS as string;

      assert.match(await sluiceOk(['set', 'image', 'demo', 'app=example/app:v2', ...n]), /image app example\/app:v1 -> example\/app:v2/);
      r = await sluice(['status', 'demo', ...n, '--timeout', '60s', '--success-on-pause']);
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, /is Paused \(CanaryPauseStep\), accepted with --success-on-pause/);
      r = await sluice(['status', 'demo', ...n, '--timeout', '3s']);
      assert.equal(r.code, 2, `a rollout waiting for promotion times out: ${show(r)}`);
      assert.match(r.stdout, /Timed out after 3s waiting for Rollout .*\/demo \(last phase Paused/);

      // promote: the pause ends, the rollout finishes; -o json prints one object per change
      assert.match(await sluiceOk(['promote', 'demo', ...n]), /promoted, the pause ended \(CanaryPauseStep\) at step 2\/2/);
      r = await sluice(['status', 'demo', ...n, '--timeout', '60s', '-o', 'json']);
      assert.equal(r.code, 0, show(r));
      const events = r.stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.ok(events.every((e) => e.schema === 'kubectl-sluice/status/v1'));
      assert.deepEqual([events.at(-1).done, events.at(-1).result, events.at(-1).exitCode], [true, 'Healthy', 0]);
      const v2 = (await s.view()).rollout.status.stableRS as string;
      assert.notEqual(v2, v1);

      // pause / resume: a person's pause, then gone
      await sluiceOk(['pause', 'demo', ...n]);
      await s.waitFor('paused by a person', (v) => {
        assert.equal(v.rollout.status.phase, 'Paused');
        assert.deepEqual(
          (v.rollout.status.pauseConditions ?? []).map((p: { reason: string }) => p.reason),
          ['UserPause'],
        );
      });
      r = await sluice(['pause', 'demo', ...n]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /already paused by a person/);
      await sluiceOk(['resume', 'demo', ...n]);
      await s.waitFor('resumed', (v) => assertHealthyOn(v, v2, 2));

      // restart: every pod recreated
      const before = new Set((await s.view()).pods.map((p) => p.metadata.name));
      assert.match(await sluiceOk(['restart', 'demo', ...n]), /restarting, pods created before/);
      await s.waitFor(
        'all pods recreated',
        (v) => {
          assert.equal(v.rollout.status.restartedAt, v.rollout.spec.restartAt);
          assert.equal(v.pods.filter((p) => before.has(p.metadata.name)).length, 0);
          assertHealthyOn(v, v2, 2);
        },
        90_000,
      );

      // undo: back to revision 1's template (a new rollout of it, with steps), refused for a revision that does not exist
      r = await sluice(['undo', 'demo', ...n, '--to-revision', '7']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /has no revision 7 \(revisions: 1, 2\)/);
      assert.match(await sluiceOk(['undo', 'demo', ...n]), /template set to revision 1 \(/);
      await s.waitFor('undo: revision 1 rolling out again, at the pause', (v) => {
        assert.equal(v.rollout.status.currentPodHash, v1);
        assert.equal(v.rollout.status.phase, 'Paused');
      });

      // abort: Degraded, status exits 1; retry: from the first step again
      assert.match(await sluiceOk(['abort', 'demo', ...n]), /aborted, all traffic goes back to the stable revision/);
      r = await sluice(['status', 'demo', ...n, '--timeout', '60s']);
      assert.equal(r.code, 1, show(r));
      assert.match(r.stdout, /is Degraded: Rollout aborted/);
      await s.waitFor('aborted: all on the stable revision', (v) => {
        assert.equal(v.rs[v1]?.spec, 0);
        assert.equal(v.rs[v2]?.spec, 2);
      });
      await sluiceOk(['retry', 'demo', ...n]);
      r = await sluice(['status', 'demo', ...n, '--timeout', '60s', '--success-on-pause']);
      assert.equal(r.code, 0, show(r));
      assert.equal((await s.view()).rollout.status.retries, 1);
      await sluiceOk(['promote', 'demo', '--full', ...n]);
      r = await sluice(['status', 'demo', ...n, '--timeout', '60s']);
      assert.equal(r.code, 0, show(r));
      await s.waitFor('revision 1 stable again', (v) => assertHealthyOn(v, v1, 2));

      // refusals say why, with exit 1
      r = await sluice(['promote', 'demo', ...n]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /is Healthy on its stable revision .*: there is nothing to promote/);
      r = await sluice(['retry', 'demo', ...n]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /is not aborted/);
      r = await sluice(['status', 'nosuch', ...n]);
      assert.equal(r.code, 3, 'an unknown Rollout is a usage error');
    }));

  test('analysis on an aborted rollout names the metric, the value and the limit; get rollout shows the tree', () =>
    inNamespace('plugin-analysis', async (ns) => {
      const s: Scenario = scenario(env, ns);
      await s.apply(manifest(errorRateTemplate(env, ns), canaryServices(), canaryRollout({ replicas: 2, steps: [{ setWeight: 50 }, analysisStep()] })));
      const n = ['-n', ns];
      assert.equal((await sluice(['status', 'demo', ...n, '--timeout', '60s'])).code, 0);
      await sluiceOk(['set', 'image', 'demo', 'app=example/app:v2-bad', ...n]);
      const r = await sluice(['status', 'demo', ...n, '--timeout', '90s']);
      assert.equal(r.code, 1, show(r));
      assert.match(r.stdout, /Degraded .*Rollout aborted: metric error-rate: 0\.\d+ > 0\.05 \(failed 1 > failureLimit 0\)/);

      const explained = await sluiceOk(['analysis', 'demo', ...n]);
      assert.match(explained, /^Phase: +Failed$/m);
      assert.match(explained, /^Metric error-rate: Failed - 0\.\d+ > 0\.05 \(failed 1 > failureLimit 0\)$/m);
      assert.match(explained, /^ {2}Limit hit: +failed 1 > failureLimit 0$/m);
      assert.match(explained, /^ {2}Query: +sum\(rate\(sluice_demo_errors_total\{namespace="[^"]+",rollouts_pod_template_hash="[a-z0-9]+"\}/m);
      assert.match(explained, /^ {2}1 +\S+Z +\[0\.\d+\] +Failed +failureCondition: result\[0\] > 0\.05 +0\.\d+ > 0\.05$/m);

      const tree = await sluiceOk(['get', 'rollout', 'demo', ...n]);
      assert.match(tree, /^Phase: +Degraded$/m);
      assert.match(tree, /^Waiting for: a decision: kubectl sluice retry demo/m);
      assert.match(tree, /AnalysisRun +Failed +\S+ +step analysis at step 2/);
      assert.match(tree, /error-rate +Metric +Failed/);
    }));
});

describe('GitSync through kubectl sluice', () => {
  test('sync --wait on a good commit exits 0; on a bad one 1 with the file, line and column; set image on a managed Rollout warns', () =>
    inNamespace('plugin-git', async (ns) => {
      const rollout = (image: string, weight = 50) =>
        manifest(canaryServices(), canaryRollout({ replicas: 2, image, steps: [{ setWeight: weight }, { pause: {} }] }));
      const repo = await env.git.createRepo(ns, { files: { 'apps/demo.yaml': rollout('example/app:v1') }, message: 'v1' });
      const wc = await env.git.clone(repo);
      // A sync applies as the namespace's GitSync ServiceAccount, with the rights its owner grants.
      await k.apply(manifest(gitSyncAccess(), gitSync('apps', { url: repo.httpUrl, ref: { branch: 'main' }, paths: ['apps'], interval: '10m' })), {
        namespace: ns,
      });
      await waitGitSync(k, ns, 'apps', 'first sync', (g) => assert.equal(condition(g, 'Ready')?.status, 'True'));
      const n = ['-n', ns];

      const good = await wc.commitAndPush('v2', { 'apps/demo.yaml': rollout('example/app:v2') });
      let r = await sluice(['sync', 'apps', ...n, '--wait', '--timeout', '60s']);
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, new RegExp(`^Synced commit ${good}: Applied`, 'm'));
      const list = await sluiceOk(['list', 'gitsyncs', ...n]);
      assert.match(list, new RegExp(`^apps +True +${good.slice(0, 12)} `, 'm'));

      const bad = await wc.commitAndPush('weight 150', { 'apps/demo.yaml': rollout('example/app:v3', 150) });
      r = await sluice(['sync', 'apps', ...n, '--wait', '--timeout', '60s']);
      assert.equal(r.code, 1, show(r));
      assert.match(r.stderr, new RegExp(`^Sync failed: InvalidManifest in apps/demo\\.yaml:\\d+:\\d+ \\(document 4\\) at commit ${bad.slice(0, 12)}$`, 'm'));
      assert.match(r.stderr, /setWeight: Too big: expected number to be <=100/);
      assert.equal((await getGitSync(k, ns, 'apps')).status.lastSyncedCommit, good, 'nothing from the bad commit was applied');

      r = await sluice(['set', 'image', 'demo', 'app=example/app:hotfix', ...n]);
      assert.equal(r.code, 0, show(r));
      assert.match(r.stderr, new RegExp(`managed by GitSync ${ns}/apps: its next sync puts the template from Git back.*git revert ${good.slice(0, 12)}`));
    }));
});

describe('lint and convert on files', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(env.descriptor.stateDir, 'plugin-files-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('lint: exit 0 for valid manifests, 1 with file:line:column for every problem', async () => {
    writeFileSync(join(dir, 'good.yaml'), manifest(canaryServices(), canaryRollout({ steps: [{ setWeight: 20 }, { pause: {} }] })));
    assert.match(await sluiceOk(['lint', '-f', join(dir, 'good.yaml')]), /^1 file, 4 objects: no problems$/m);
    mkdirSync(join(dir, 'bad'));
    const rolloutYaml = manifest(canaryRollout({ steps: [{ setWeight: 150 }] }));
    const analysisYaml = manifest({
      ...errorRateTemplate(env, 'x'),
      spec: { metrics: [{ name: 'm', failureCondition: 'result[0] >', provider: { prometheus: { address: 'http://p:9090', query: 'up' } } }] },
    });
    writeFileSync(join(dir, 'bad', 'rollout.yaml'), rolloutYaml);
    writeFileSync(join(dir, 'bad', 'analysis.yaml'), analysisYaml);
    const r = await sluice(['lint', '-f', join(dir, 'bad')]);
    assert.equal(r.code, 1, show(r));
    // Each problem at the line and column of the failing value.
    const weight = positionIn(rolloutYaml, 'setWeight: 150');
    const condition = positionIn(analysisYaml, 'failureCondition: ');
    const weightAt = `${join(dir, 'bad', 'rollout.yaml')}:${weight.line}:${weight.column + 'setWeight: '.length}`;
    assert.ok(r.stdout.includes(`${weightAt}: document 1: Rollout "demo": spec.strategy.canary.steps[0].setWeight: Too big`), show(r));
    const conditionAt = `${join(dir, 'bad', 'analysis.yaml')}:${condition.line}:${condition.column + 'failureCondition: '.length}`;
    const cel = 'AnalysisTemplate "error-rate": metric m: invalid failureCondition "result[0] >": syntax error';
    assert.ok(r.stdout.includes(`${conditionAt}: document 1: ${cel}`), show(r));
    assert.match(r.stderr, /^2 problems in 2 of 2 files$/m);
  });

  test('convert: what Sluice cannot do is named on stderr with exit 1; a plain Argo canary becomes one that rolls out', async () => {
    const argo = canaryRollout({
      steps: [{ setWeight: 20 }, { experiment: { templates: [{ name: 'c', specRef: 'canary' }] } }, { pause: { duration: '10s' } }],
    });
    argo.apiVersion = 'argoproj.io/v1alpha1';
    argo.spec.strategy.canary.trafficRouting = { nginx: { stableIngress: 'demo' } };
    const datadog = {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'AnalysisTemplate',
      metadata: { name: 'errors' },
      spec: { metrics: [{ name: 'errors', failureCondition: 'result > 0.01', provider: { datadog: { query: 'sum:errors{*}' } } }] },
    };
    writeFileSync(join(dir, 'argo.yaml'), manifest(canaryServices(), argo, datadog));
    const r = await sluice(['convert', '-f', join(dir, 'argo.yaml')]);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /not converted: .*Rollout "demo": spec\.strategy\.canary\.trafficRouting \(nginx\) is not supported/);
    assert.match(r.stderr, /not converted: .*Rollout "demo": spec\.strategy\.canary\.steps\[1\]\.experiment is not supported/);
    assert.match(r.stderr, /not converted: .*AnalysisTemplate "errors": spec\.metrics\[0\] \(errors\): provider datadog is not supported .*metric left out/);
    assert.match(r.stdout, /^apiVersion: sluice\.dev\/v1alpha1\nkind: Rollout$/m);
    const lint = await sluice(['lint', '-f', '-'], { input: r.stdout });
    assert.equal(lint.code, 1, 'lint names what the controller would refuse');
    assert.match(lint.stdout, /trafficRouting \(nginx\) is not supported/);

    // A canary that uses only what Sluice does: converted whole (exit 0), applied, rolled out.
    const plain = canaryRollout({ replicas: 2, steps: [{ setWeight: 50 }, { pause: { duration: 1 } }] });
    plain.apiVersion = 'argoproj.io/v1alpha1';
    writeFileSync(join(dir, 'plain.yaml'), manifest(canaryServices(), plain));
    const converted = await sluice(['convert', '-f', join(dir, 'plain.yaml')]);
    assert.equal(converted.code, 0, show(converted));
    assert.match(converted.stderr, /^1 object converted$/m);
    await inNamespace('plugin-convert', async (ns) => {
      await k.apply(converted.stdout, { namespace: ns });
      const status = await sluice(['status', 'demo', '-n', ns, '--timeout', '60s']);
      assert.equal(status.code, 0, show(status));
    });
  });
});

describe('get rollout --watch on a terminal', () => {
  const exec = promisify(execFile);
  const socket = `sluice-e2e-${process.pid}`;
  const tmux = (...args: string[]) => exec('tmux', ['-L', socket, ...args], { timeout: 10_000 });
  after(async () => {
    await run('tmux', ['-L', socket, 'kill-server']);
  });

  test('redrawn in place on every change (read off a tmux pane), in colour, until Ctrl-C', () =>
    inNamespace('plugin-watch', async (ns) => {
      const s = scenario(env, ns);
      await s.apply(manifest(canaryServices(), canaryRollout({ replicas: 2, steps: [{ setWeight: 50 }, { pause: {} }] })));
      await s.waitFor('v1 Healthy', (v) => assertHealthyOn(v, v.rollout.status.currentPodHash, 2));
      const envVars = k.env();
      // The command as argv (no shell, whose profile could reset PATH), with the plugin's PATH.
      await tmux(
        'new-session',
        '-d',
        '-s',
        'watch',
        '-x',
        '200',
        '-y',
        '50',
        'env',
        `PATH=${pluginPath}`,
        `KUBECONFIG=${envVars.KUBECONFIG}`,
        'TERM=xterm-256color',
        'kubectl',
        'sluice',
        'get',
        'rollout',
        'demo',
        '-n',
        ns,
        '--watch',
      );
      const screen = async (colour = false) => (await tmux('capture-pane', '-p', ...(colour ? ['-e'] : []), '-t', 'watch')).stdout;
      await waitFor('the tree on the screen', async () => {
        const text = await screen();
        assert.match(text, /^Phase: +Healthy$/m);
        return text;
      });
      assert.match(await screen(true), /\x1b\[32mHealthy/, 'the phase in colour on a terminal');

      await sluiceOk(['set', 'image', 'demo', 'app=example/app:v2', '-n', ns]);
      const redrawn = await waitFor(
        'redrawn for the new revision',
        async () => {
          const text = await screen();
          assert.match(text, /^Phase: +Paused$/m);
          assert.match(text, /^Waiting for: promotion: kubectl sluice promote demo$/m);
          return text;
        },
        { timeoutMs: 60_000 },
      );
      assert.equal(redrawn.split('\n').filter((l) => l.startsWith('Name:')).length, 1, `one tree on the screen, redrawn in place:\n${redrawn}`);
      assert.doesNotMatch(redrawn, /^Phase: +Healthy$/m);

      await sluiceOk(['promote', 'demo', '-n', ns]);
      await waitFor(
        'redrawn again',
        async () => {
          const text = await screen();
          assert.match(text, /^Phase: +Healthy$/m);
          return text;
        },
        { timeoutMs: 60_000 },
      );
      await tmux('send-keys', '-t', 'watch', 'C-c');
      await waitFor('the watch ends on Ctrl-C', async () => {
        const r = await run('tmux', ['-L', socket, 'has-session', '-t', 'watch']);
        assert.notEqual(r.code, 0, 'the session is gone once kubectl sluice exits');
        return true;
      });
    }));
});
