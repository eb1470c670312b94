import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { beginVerification, detectProvider, UNSIGNED, verifyWebhook } from './webhook-signature.ts';

const SECRET = 'hook-secret-0123456789';
const sign = (body: string | Uint8Array, secret = SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
const body = Buffer.from(JSON.stringify({ ref: 'refs/heads/main', after: 'abc' }));

describe('webhook signatures', () => {
  test('GitHub: push triggers, ping answers, other events are ignored; the delivery id is kept', () => {
    const h = (event: string, signature = sign(body)) => ({ 'x-github-event': event, 'x-hub-signature-256': signature, 'x-github-delivery': 'd-1' });
    assert.deepEqual(verifyWebhook(h('push'), body, SECRET), { ok: true, value: { provider: 'github', event: 'push', action: 'trigger', deliveryId: 'd-1' } });
    assert.deepEqual(verifyWebhook(h('ping'), body, SECRET), { ok: true, value: { provider: 'github', event: 'ping', action: 'ping', deliveryId: 'd-1' } });
    const issues = verifyWebhook(h('issues'), body, SECRET);
    assert.equal(issues.ok && issues.value.action, 'ignore');
    assert.equal(verifyWebhook({ 'x-gitea-event': 'push', 'x-hub-signature-256': sign(body), 'x-gitea-delivery': 'g' }, body, SECRET).ok, true);
    for (const bad of ['sha256=00', sign(body, 'other'), sign(Buffer.concat([body, Buffer.from(' ')])), sign(body).replace('sha256', 'sha1'), '']) {
      assert.deepEqual(verifyWebhook(h('push', bad), body, SECRET), { ok: false, error: 'bad X-Hub-Signature-256' }, bad);
    }
    assert.equal(verifyWebhook(h('push', sign(body).toUpperCase().replace('SHA256', 'sha256')), body, SECRET).ok, true, 'hex case does not matter');
  });

  test('GitLab: decided from the headers, before any body', () => {
    const v = beginVerification({ 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': SECRET, 'x-gitlab-event-uuid': 'u-1' }, SECRET);
    assert.deepEqual(v, { done: true, result: { ok: true, value: { provider: 'gitlab', event: 'Push Hook', action: 'trigger', deliveryId: 'u-1' } } });
    assert.deepEqual(beginVerification({ 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': `${SECRET}x` }, SECRET), {
      done: true,
      result: { ok: false, error: 'bad X-Gitlab-Token' },
    });
    assert.deepEqual(beginVerification({ 'x-gitlab-token': '' }, SECRET), { done: true, result: { ok: false, error: 'bad X-Gitlab-Token' } });
    const mr = beginVerification({ 'x-gitlab-event': 'Merge Request Hook', 'x-gitlab-token': SECRET }, SECRET);
    assert.ok(mr.done && mr.result.ok && mr.result.value.action === 'ignore');
  });

  test('generic signature, and unsigned requests', () => {
    assert.deepEqual(verifyWebhook({ 'x-sluice-signature-256': sign('deploy'), 'x-sluice-delivery': 'ci-7' }, Buffer.from('deploy'), SECRET), {
      ok: true,
      value: { provider: 'generic', event: 'push', action: 'trigger', deliveryId: 'ci-7' },
    });
    assert.deepEqual(beginVerification({ 'x-github-event': 'push' }, SECRET), { done: true, result: { ok: false, error: UNSIGNED } });
    assert.equal(detectProvider({ 'x-hub-signature-256': ['a', 'b'] }), 'github');
  });

  test('property: chunks verify exactly as the whole body; any change to the body fails', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.array(fc.nat(300), { maxLength: 6 }), fc.nat(), (bytes, cuts, flip) => {
        const headers = { 'x-github-event': 'push', 'x-hub-signature-256': sign(bytes) };
        const v = beginVerification(headers, SECRET);
        assert.equal(v.done, false);
        if (v.done) return;
        let at = 0;
        for (const cut of [...cuts].sort((a, b) => a - b)) {
          v.update(bytes.subarray(at, Math.max(at, Math.min(cut, bytes.length))));
          at = Math.max(at, Math.min(cut, bytes.length));
        }
        v.update(bytes.subarray(at));
        assert.deepEqual(v.finish(), verifyWebhook(headers, bytes, SECRET));
        assert.equal(verifyWebhook(headers, bytes, SECRET).ok, true);
        const changed = Uint8Array.from(bytes);
        changed[flip % changed.length] = ((changed[flip % changed.length] as number) + 1) % 256;
        assert.equal(verifyWebhook(headers, changed, SECRET).ok, false);
      }),
      { seed: 77, numRuns: Number(process.env.FUZZ_RUNS ?? 200) },
    );
  });
});
