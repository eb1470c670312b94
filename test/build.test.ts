// What `npm install -g .` or `npm link` installs must run without type stripping (Node does not
// strip types under node_modules): `npm run build` emits all of src/ as JavaScript. This builds
// it into a scratch directory inside the repository (so node_modules resolve) and runs the
// emitted plugin, its completion helper and the controller entry point.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };
let out = '';

before(async () => {
  out = mkdtempSync(join(ROOT, '.tmp-build-'));
  // The same compiler options as `npm run build`, another output directory.
  assert.equal(pkg.scripts.build, 'tsc -p tsconfig.build.json');
  await exec(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', out], {
    cwd: ROOT,
    timeout: 120_000,
  });
});
after(() => rmSync(out, { recursive: true, force: true }));

const emitted = (bin: string) => join(out, bin.replace(/^dist\//, ''));

test('the bin entries point at emitted files with a node shebang', () => {
  assert.deepEqual(Object.keys(pkg.bin).sort(), ['kubectl-sluice', 'kubectl_complete-sluice']);
  for (const target of Object.values(pkg.bin)) {
    assert.ok(existsSync(emitted(target)), `${target} is emitted`);
    assert.equal(readFileSync(emitted(target), 'utf8').split('\n')[0], '#!/usr/bin/env node');
  }
  assert.ok(!existsSync(join(out, 'cli', 'golden.test.js')), 'tests are not part of the build');
});

test('the emitted plugin runs: --help, --version, completion', async () => {
  const help = await exec(process.execPath, [emitted(pkg.bin['kubectl-sluice'] as string), '--help']);
  assert.match(help.stdout, /^Usage: kubectl sluice/);
  const version = await exec(process.execPath, [emitted(pkg.bin['kubectl-sluice'] as string), '--version']);
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  const complete = await exec(process.execPath, [emitted(pkg.bin['kubectl_complete-sluice'] as string), 'pro']);
  assert.equal(complete.stdout, 'promote\tgo on: end the current pause, or skip the current step\n:4\n');
});

test('the emitted controller runs: node dist/main.js --help', async () => {
  const help = await exec(process.execPath, [join(out, 'main.js'), '--help']);
  assert.match(help.stdout, /^Usage: sluice /);
});
