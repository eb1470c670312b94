// The Git adapter factory: the git CLI is the only implementation (a no-op makes no sense
// for a source of manifests).
import type { GitClient } from '../../ports/git.ts';
import { CliGitClient, type CliGitOptions } from './cli.ts';

export type { CliGitOptions } from './cli.ts';

export function createGitClient(opts: CliGitOptions): GitClient {
  return new CliGitClient(opts);
}
