// Reading -f FILE|DIR (repeatable; - for standard input) into the shared parser's SourceFile
// form: directories recursively, only *.yaml, *.yml and *.json in them (as a GitSync reads a
// repository: `include` is isManifestPath of core/gitops/manifests.ts), files named explicitly
// whatever their name.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { SourceFile } from '../../core/gitops/manifests.ts';
import { usageError, type CliIo } from '../io.ts';

export async function readManifestFiles(paths: readonly string[], io: CliIo, include: (path: string) => boolean): Promise<SourceFile[]> {
  if (paths.length === 0) throw usageError('give the manifests with -f FILE or -f DIR (or -f - for standard input)');
  const files: SourceFile[] = [];
  for (const path of paths) {
    if (path === '-') {
      if (!io.readStdin) throw usageError('-f -: standard input is not available');
      files.push({ path: '<stdin>', content: await io.readStdin() });
      continue;
    }
    let info;
    try {
      info = await stat(path);
    } catch {
      throw usageError(`-f ${path}: no such file or directory`);
    }
    if (info.isDirectory()) {
      const found = await walk(path, include);
      if (found.length === 0) throw usageError(`-f ${path}: no *.yaml, *.yml or *.json files in this directory`);
      for (const file of found) files.push({ path: file, content: await readFile(file, 'utf8') });
    } else {
      files.push({ path, content: await readFile(path, 'utf8') });
    }
  }
  return files;
}

async function walk(dir: string, include: (path: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full, include)));
    else if (entry.isFile() && include(entry.name)) out.push(full);
  }
  return out;
}
