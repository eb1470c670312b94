// Golden plans: each file in golden/ is a (observed, now) captured from a real reconcile at a
// transition, with the plan the planner made then. Every file is replayed from its JSON alone;
// a changed plan fails here. Regenerate with `node scripts/capture-golden-plans.ts` only for a
// change meant to change plans, and read the diff: every changed line is a behaviour change.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { replayPlan } from './replay.ts';

const dir = join(import.meta.dirname, 'golden');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
const strategies = ['canary', 'blue-green', 'analysis', 'phase'];

describe('golden plans', () => {
  test('every strategy has golden cases', () => {
    for (const strategy of strategies)
      assert.ok(
        files.some((f) => f.startsWith(`${strategy}--`)),
        `no golden case for ${strategy}`,
      );
  });
  for (const file of files) {
    test(file.replace(/\.json$/, ''), () => {
      const { expected, ...input } = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { expected: unknown };
      const replayed = replayPlan(input);
      assert.ok(replayed.ok, replayed.ok ? '' : replayed.error);
      assert.deepEqual(JSON.parse(JSON.stringify(replayed.value)), expected);
    });
  }
  test('scripts/replay-plan.ts prints the plan of a file', () => {
    const file = join(dir, files[0] as string);
    const out = execFileSync(process.execPath, [join(import.meta.dirname, '..', '..', '..', 'scripts', 'replay-plan.ts'), file], { encoding: 'utf8' });
    assert.deepEqual(JSON.parse(out), (JSON.parse(readFileSync(file, 'utf8')) as { expected: unknown }).expected);
  });
  test('input that is not a plan input is refused with the fields named', () => {
    const result = replayPlan({ observed: { rollout: {} }, now: 'yesterday' });
    assert.equal(result.ok, false);
    assert.match(result.ok ? '' : result.error, /^not a replayable plan input: observed\.rollout\.apiVersion: .*; and \d+ more$/);
  });
});
