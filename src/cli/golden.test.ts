// Golden-output tests of every rendering the plugin prints (tree, tables, status lines and JSON,
// the analysis explanation, lint and convert), run through the real command line parser over
// objects recorded on the e2e cluster (testdata/recorded), with the clock at the recording time
// and no colour. UPDATE_GOLDEN=1 rewrites the files; review the diff before committing it.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadRecorded, RecordedKube, run, TESTDATA, type Recorded } from '../../test/helpers/cli.ts';
import type { KubeObject } from '../ports/kube.ts';

const GOLDEN = join(TESTDATA, 'golden');
const update = process.env.UPDATE_GOLDEN === '1';
// Lint and convert print the paths they were given: run them from the repository root.
process.chdir(join(import.meta.dirname, '..', '..'));

function golden(name: string, actual: string): void {
  const file = join(GOLDEN, name);
  if (update || !existsSync(file)) {
    if (!update) assert.fail(`golden file ${name} is missing; run with UPDATE_GOLDEN=1 to create it`);
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  assert.equal(actual, readFileSync(file, 'utf8'), `output differs from ${name} (UPDATE_GOLDEN=1 rewrites it)`);
}

const objectsOf = (r: Recorded): KubeObject[] => [r.rollout, ...r.replicaSets, ...r.pods, ...r.analysisRuns];

function on(fixtures: Recorded[]) {
  const kube = new RecordedKube(fixtures.flatMap(objectsOf));
  return { kube, now: new Date(Math.max(...fixtures.map((f) => Date.parse(f.recordedAt)))) };
}

/** What a command printed, as one text: exit code, stdout, then stderr when there is any. */
const transcript = (r: { code: number; stdout: string; stderr: string }) => `exit ${r.code}\n${r.stdout}${r.stderr ? `--- stderr\n${r.stderr}` : ''}`;

interface Fixture {
  name: string;
  /** Exit code of `status --no-watch`, and with --success-on-pause. */
  status: number;
  onPause: number;
  analysis: boolean;
}

const FIXTURES: Fixture[] = [
  { name: 'canary-paused', status: 2, onPause: 0, analysis: false },
  { name: 'canary-analysis-running', status: 2, onPause: 2, analysis: true },
  { name: 'canary-timed-pause', status: 2, onPause: 0, analysis: true },
  { name: 'canary-healthy', status: 0, onPause: 0, analysis: true },
  { name: 'canary-aborted', status: 1, onPause: 1, analysis: true },
  { name: 'canary-inconclusive', status: 2, onPause: 0, analysis: true },
  { name: 'canary-git', status: 0, onPause: 0, analysis: false },
  { name: 'bluegreen-preview', status: 2, onPause: 0, analysis: false },
];

describe('golden output from recorded objects', () => {
  for (const f of FIXTURES) {
    describe(f.name, () => {
      const recorded = loadRecorded(f.name);
      const name = recorded.rollout.metadata?.name as string;
      const ns = recorded.rollout.metadata?.namespace as string;
      const opts = on([recorded]);

      test('get rollout: the tree', async () => {
        const r = await run(['get', 'rollout', name, '-n', ns], opts);
        assert.equal(r.code, 0, r.stderr);
        golden(`get-${f.name}.txt`, r.stdout);
      });

      test('status --no-watch: the line and the exit code', async () => {
        const r = await run(['status', name, '-n', ns, '--no-watch'], opts);
        assert.equal(r.code, f.status, transcript(r));
        const paused = await run(['status', name, '-n', ns, '--no-watch', '--success-on-pause'], opts);
        assert.equal(paused.code, f.onPause, transcript(paused));
        golden(`status-${f.name}.txt`, `${transcript(r)}\n--- with --success-on-pause\n${transcript(paused)}`);
      });

      test('status -o json: one versioned object per line', async () => {
        const r = await run(['status', name, '-n', ns, '--no-watch', '-o', 'json'], opts);
        assert.equal(r.code, f.status);
        const lines = r.stdout.trimEnd().split('\n');
        for (const line of lines) assert.equal(JSON.parse(line).schema, 'kubectl-sluice/status/v1');
        golden(`status-${f.name}.jsonl`, r.stdout);
      });

      if (f.analysis) {
        test('analysis: the explanation', async () => {
          const r = await run(['analysis', name, '-n', ns], opts);
          assert.equal(r.code, 0, r.stderr);
          golden(`analysis-${f.name}.txt`, r.stdout);
        });
      }
    });
  }

  test('get rollout -o json and -o yaml: the view as data', async () => {
    const recorded = loadRecorded('canary-aborted');
    const r = await run(['get', 'rollout', 'web', '-n', 'shop', '-o', 'json'], on([recorded]));
    const view = JSON.parse(r.stdout);
    assert.equal(view.schema, 'kubectl-sluice/rollout/v1');
    assert.equal(view.aborted, true);
    golden('get-canary-aborted.json', r.stdout);
    const yaml = await run(['get', 'rollout', 'web', '-n', 'shop', '-o', 'yaml'], on([recorded]));
    assert.match(yaml.stdout, /^schema: kubectl-sluice\/rollout\/v1$/m);
  });

  test('analysis -o json of an AnalysisRun named directly', async () => {
    const recorded = loadRecorded('canary-aborted');
    const failed = recorded.analysisRuns.find((r) => (r as { status?: { phase?: string } }).status?.phase === 'Failed')?.metadata?.name as string;
    const r = await run(['analysis', `analysisrun/${failed}`, '-n', 'shop', '-o', 'json'], on([recorded]));
    assert.equal(r.code, 0, r.stderr);
    golden('analysis-run.json', r.stdout);
  });

  const three = () => on([loadRecorded('canary-aborted'), loadRecorded('canary-git'), loadRecorded('bluegreen-preview')]);

  test('list rollouts -A, and -o wide', async () => {
    const r = await run(['list', 'rollouts', '-A'], three());
    assert.equal(r.code, 0, r.stderr);
    golden('list-rollouts.txt', r.stdout);
    const wide = await run(['list', 'ro', '-A', '-o', 'wide'], three());
    golden('list-rollouts-wide.txt', wide.stdout);
    const one = await run(['list', 'rollouts', '-n', 'shop-git'], three());
    golden('list-rollouts-namespace.txt', one.stdout);
  });

  test('list analysisruns, and -o wide', async () => {
    const opts = on([loadRecorded('canary-inconclusive')]);
    const r = await run(['list', 'analysisruns', '-n', 'shop'], opts);
    golden('list-analysisruns.txt', r.stdout);
    const wide = await run(['list', 'ar', '-n', 'shop', '-o', 'wide'], opts);
    golden('list-analysisruns-wide.txt', wide.stdout);
  });

  test('list gitsyncs, and -o wide', async () => {
    const recorded = JSON.parse(readFileSync(join(TESTDATA, 'recorded', 'gitsyncs.json'), 'utf8')) as { recordedAt: string; items: KubeObject[] };
    const opts = { kube: new RecordedKube(recorded.items), now: new Date(recorded.recordedAt) };
    const r = await run(['list', 'gitsyncs', '-n', 'shop-git'], opts);
    golden('list-gitsyncs.txt', r.stdout);
    const wide = await run(['list', 'gs', '-n', 'shop-git', '-o', 'wide'], opts);
    golden('list-gitsyncs-wide.txt', wide.stdout);
  });

  test('list of nothing says so on stderr', async () => {
    const r = await run(['list', 'rollouts', '-n', 'empty'], three());
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', 'No rollouts found in namespace empty.\n']);
  });

  test('lint: every problem with file, line and document; exit 1', async () => {
    const r = await run(['lint', '-f', 'src/cli/testdata/manifests/lint']);
    assert.equal(r.code, 1);
    golden('lint.txt', transcript(r));
    const json = await run(['lint', '-f', 'src/cli/testdata/manifests/lint', '-o', 'json']);
    golden('lint.json', json.stdout);
    const good = await run(['lint', '-f', 'src/cli/testdata/manifests/lint/good']);
    assert.equal(good.code, 0, transcript(good));
    golden('lint-good.txt', transcript(good));
  });

  test('convert: Sluice manifests on stdout, what was left out on stderr; exit 1', async () => {
    const r = await run(['convert', '-f', 'src/cli/testdata/manifests/convert']);
    assert.equal(r.code, 1);
    golden('convert.yaml', r.stdout);
    golden('convert-stderr.txt', r.stderr);
  });
});
