// House style that a formatter cannot keep: no line over 160 characters (prettier leaves long
// strings and regular expressions alone), and no source file over ~400 lines without a reason
// written at its top ("Long file" in its first lines).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const files = execFileSync('git', ['ls-files', '*.ts'], { cwd: root, encoding: 'utf8' })
  .split('\n')
  .filter((f) => f && !f.startsWith('src/core/rollout/golden/'));

test('no TypeScript line is longer than 160 characters', () => {
  const long = files.flatMap((f) =>
    readFileSync(join(root, f), 'utf8')
      .split('\n')
      .flatMap((line, i) => (line.length > 160 ? [`${f}:${i + 1} (${line.length})`] : [])),
  );
  assert.deepEqual(long, []);
});
test('no source file is over 420 lines unless its top says why', () => {
  const over = files
    .filter((f) => !f.endsWith('.test.ts'))
    .filter((f) => {
      const lines = readFileSync(join(root, f), 'utf8').split('\n');
      return lines.length > 420 && !lines.slice(0, 15).some((l) => /Long file/.test(l));
    });
  assert.deepEqual(over, []);
});
