// Completion answers in the protocol kubectl's plugin completion reads (candidates, then
// ":<directive>"), from the command tree and from the cluster; the bash script works in bash.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { FakeKube } from '../../../test/fakes/kube.ts';
import { run } from '../../../test/helpers/cli.ts';
import { kinds } from '../../ports/kube.ts';

async function complete(words: string[], kube?: FakeKube): Promise<{ values: string[]; directive: number; lines: string[] }> {
  const r = await run(['__complete', ...words], kube ? { kube } : {});
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  const last = lines.pop() as string;
  assert.match(last, /^:\d+$/, 'the last line is the directive');
  return { values: lines.map((l) => l.split('\t')[0] as string), directive: Number(last.slice(1)), lines };
}

async function cluster(): Promise<FakeKube> {
  const kube = new FakeKube();
  for (const [ns, name] of [
    ['default', 'web'],
    ['default', 'worker'],
    ['team', 'api'],
  ] as const) {
    await kube.create(kinds.rollout, {
      metadata: { name, namespace: ns },
      spec: { template: { spec: { containers: [{ name: 'app', image: `example/${name}:v1` }] } } },
    });
  }
  await kube.create(kinds.gitSync, { metadata: { name: 'apps', namespace: 'default' }, spec: {} });
  await kube.create(kinds.analysisRun, { metadata: { name: 'web-abc-step-1', namespace: 'default' }, spec: {} });
  await kube.create({ apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false }, { metadata: { name: 'team' } });
  return kube;
}

test('commands: every visible command with its summary, filtered by what is typed; no files', async () => {
  const all = await complete(['']);
  for (const name of [
    'list',
    'get',
    'status',
    'promote',
    'abort',
    'retry',
    'pause',
    'resume',
    'undo',
    'restart',
    'set',
    'analysis',
    'sync',
    'lint',
    'convert',
    'version',
    'completion',
  ]) {
    assert.ok(all.values.includes(name), name);
  }
  assert.ok(!all.values.includes('help') && !all.values.includes('__complete'));
  assert.equal(all.directive, 4);
  assert.ok(all.lines.includes('promote\tgo on: end the current pause, or skip the current step'));
  assert.deepEqual((await complete(['pro'])).values, ['promote']);
  assert.deepEqual((await complete(['re'])).values, ['retry', 'resume', 'restart']);
  assert.deepEqual((await complete(['set', ''])).values, ['image']);
  assert.deepEqual((await complete(['get', ''])).values, ['rollout']);
  assert.deepEqual((await complete(['list', ''])).values, ['rollouts', 'gitsyncs', 'analysisruns']);
  assert.deepEqual((await complete(['completion', ''])).values, ['bash', 'zsh']);
});

test('names from the cluster, in the namespace given with -n', async () => {
  const kube = await cluster();
  assert.deepEqual((await complete(['promote', ''], kube)).values, ['web', 'worker']);
  assert.deepEqual((await complete(['promote', 'wo'], kube)).values, ['worker']);
  assert.deepEqual((await complete(['-n', 'team', 'status', ''], kube)).values, ['api']);
  assert.deepEqual((await complete(['get', 'rollout', '--namespace=team', ''], kube)).values, ['api']);
  assert.deepEqual((await complete(['sync', ''], kube)).values, ['apps']);
  assert.deepEqual((await complete(['analysis', ''], kube)).values, ['web', 'worker', 'web-abc-step-1']);
  assert.deepEqual((await complete(['-n', ''], kube)).values, ['team']);
  assert.deepEqual((await complete(['promote', 'web', ''], kube)).values, [], 'one Rollout per command');
});

test('options, option values, files and CONTAINER= for set image', async () => {
  const kube = await cluster();
  const options = await complete(['promote', '--'], kube);
  for (const o of ['--full', '--namespace', '--context', '--kubeconfig', '--help']) assert.ok(options.values.includes(o), o);
  assert.deepEqual((await complete(['status', 'web', '-o', ''], kube)).values, ['json']);
  assert.deepEqual((await complete(['list', 'rollouts', '-o', ''], kube)).values, ['json', 'yaml', 'wide']);
  assert.equal((await complete(['lint', '-f', ''], kube)).directive, 0, 'the shell completes file names');
  const images = await complete(['set', 'image', 'web', ''], kube);
  assert.deepEqual(images.values, ['app=']);
  assert.equal(images.directive, 2 | 4, 'no space after app=, no files');
});

test('a cluster that cannot be reached gives no names, not an error on the terminal', async () => {
  const r = await run(['__complete', 'promote', '']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, ':1\n');
  assert.equal(r.stderr, '');
});

test('completion bash: the script completes kubectl-sluice in bash', async () => {
  const bin = mkdtempSync(join(tmpdir(), 'sluice-completion-'));
  try {
    // kubectl-sluice on the PATH, as an installed plugin would be.
    const entry = join(import.meta.dirname, '..', 'kubectl-sluice.ts');
    writeFileSync(join(bin, 'kubectl-sluice'), `#!/bin/sh\nexec "${process.execPath}" "${entry}" "$@"\n`);
    chmodSync(join(bin, 'kubectl-sluice'), 0o755);
    const script = (await run(['completion', 'bash'])).stdout;
    writeFileSync(join(bin, 'completion.bash'), script);
    const probe = [
      `source ${join(bin, 'completion.bash')}`,
      'COMP_WORDS=(kubectl-sluice set im)',
      'COMP_CWORD=2',
      '_kubectl_sluice',
      `printf '%s\\n' "\${COMPREPLY[@]}"`,
      'complete -p kubectl-sluice',
    ].join('; ');
    const { stdout } = await promisify(execFile)('bash', ['-c', probe], { env: { ...process.env, PATH: [bin, process.env.PATH].join(delimiter) } });
    assert.equal(stdout, 'image\ncomplete -o default -F _kubectl_sluice kubectl-sluice\n');
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});

test('completion zsh prints a compdef script; other shells are a usage error', async () => {
  const zsh = await run(['completion', 'zsh']);
  assert.match(zsh.stdout, /^#compdef kubectl-sluice\n/);
  assert.match(zsh.stdout, /kubectl-sluice __complete/);
  const fish = await run(['completion', 'fish']);
  assert.equal(fish.code, 3);
  assert.match(fish.stderr, /no completion for "fish": use bash or zsh/);
});
