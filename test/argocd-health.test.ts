// The Argo CD health check (docs/argocd/rollout-health.lua) run by a real Lua interpreter over
// Rollouts as the controller leaves them (the integration harness), not hand-written statuses.
// Argo CD's interpreter is Lua 5.1 (gopher-lua); the check runs on every lua5.1 / lua5.4 here.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { kinds, type KubeObject } from '../src/ports/kube.ts';
import { blueGreenRollout, canaryRollout, service, startHarness, type Harness } from './helpers/harness.ts';

const SCRIPT = join(import.meta.dirname, '..', 'docs', 'argocd', 'rollout-health.lua');
const interpreters = ['lua5.1', 'lua5.4'].filter((lua) => spawnSync(lua, ['-v']).status === 0);

/** A JSON value as a Lua table constructor (null fields are left out, as Argo CD's conversion does). */
function toLua(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'string') return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `{${v.map(toLua).join(', ')}}`;
  const fields = Object.entries(v as Record<string, unknown>)
    .filter(([, x]) => x !== null && x !== undefined)
    .map(([k, x]) => `[${toLua(k)}] = ${toLua(x)}`);
  return `{${fields.join(', ')}}`;
}

/** Runs the health check on `obj` with `lua`; returns Argo CD's { status, message }. */
function health(lua: string, obj: unknown): { status: string; message: string } {
  const driver = `obj = ${toLua(obj)}\nlocal hs = assert(loadfile(${toLua(SCRIPT)}))()\nio.write(hs.status, "\\n", hs.message or "")`;
  const r = spawnSync(lua, ['-'], { input: driver, encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, `${lua} failed: ${r.stderr}`);
  const [status = '', ...message] = r.stdout.split('\n');
  return { status, message: message.join('\n') };
}

describe('Argo CD health check for Rollouts', { skip: interpreters.length === 0 && 'no Lua interpreter (apt-get install lua5.1 lua5.4)' }, () => {
  let h: Harness;
  const steps = [{ setWeight: 20 }, { pause: {} }, { setWeight: 60 }];
  beforeEach(async () => {
    h = await startHarness();
    await h.kube.create(kinds.service, service('app-stable'));
    await h.kube.create(kinds.service, service('app-canary'));
  });
  afterEach(() => h.stop());

  const each = (name: string, fn: (lua: string) => Promise<void> | void) => {
    for (const lua of interpreters) test(`${name} (${lua})`, () => fn(lua));
  };
  const fresh = async (obj: KubeObject) => {
    await h.kube.create(kinds.rollout, obj);
    await h.settle();
    return h.rollout();
  };

  each('a Rollout the controller has not seen yet is Progressing', (lua) => {
    const r = health(lua, canaryRollout({ steps }));
    assert.equal(r.status, 'Progressing');
    assert.match(r.message, /observe the Rollout/);
  });

  each('Healthy on its first revision; Suspended while paused for a person; Healthy once promoted', async (lua) => {
    const v1 = await fresh(canaryRollout({ steps, stableService: 'app-stable', canaryService: 'app-canary' }));
    assert.equal(v1.status.phase, 'Healthy');
    assert.equal(health(lua, v1).status, 'Healthy');
    await h.setImage('app', 'example/app:v2');
    const paused = h.rollout();
    assert.equal(paused.status.phase, 'Paused');
    const r = health(lua, paused);
    assert.equal(r.status, 'Suspended');
    assert.equal(r.message, paused.status.message);
    await h.patchStatus('app', { pauseConditions: null });
    const promoted = h.rollout();
    assert.equal(promoted.status.phase, 'Healthy');
    assert.equal(health(lua, promoted).status, 'Healthy');
  });

  each('aborted: Degraded with the abort message', async (lua) => {
    await fresh(canaryRollout({ steps, stableService: 'app-stable', canaryService: 'app-canary' }));
    await h.setImage('app', 'example/app:v2');
    await h.patchStatus('app', { abort: true });
    const aborted = h.rollout();
    assert.equal(aborted.status.abort, true);
    const r = health(lua, aborted);
    assert.equal(r.status, 'Degraded');
    assert.equal(r.message, aborted.status.abortMessage ?? aborted.status.message);
  });

  each('a spec the controller cannot act on: Degraded with the InvalidSpec message', async (lua) => {
    const invalid = await fresh(blueGreenRollout({ activeService: 'missing-svc' }));
    const r = health(lua, invalid);
    assert.equal(r.status, 'Degraded');
    assert.match(r.message, /Service "missing-svc" not found/);
  });

  each('a spec change not yet observed is Progressing, whatever the last phase said', async (lua) => {
    const live = await fresh(canaryRollout({ steps }));
    assert.equal(live.status.phase, 'Healthy');
    const changed = { ...live, metadata: { ...live.metadata, generation: (live.metadata.generation ?? 1) + 1 } };
    const r = health(lua, changed);
    assert.equal(r.status, 'Progressing');
    assert.match(r.message, /generation/);
  });

  each('an unknown phase is Unknown, not Healthy', (lua) => {
    const r = health(lua, { metadata: { generation: 1 }, status: { observedGeneration: 1, phase: 'Sideways' } });
    assert.deepEqual(r, { status: 'Unknown', message: 'Unknown phase Sideways' });
  });
});
