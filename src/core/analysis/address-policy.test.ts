import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { addressBeforeArgs, isAddressAllowed, parseAddressPolicy } from './address-policy.ts';

const policy = (...entries: string[]) => {
  const parsed = parseAddressPolicy(entries);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
  return parsed.value;
};

describe('provider address policy', () => {
  test('no policy allows every address', () => assert.equal(isAddressAllowed('http://anything:1234', []), true));
  const table: Array<[string[], string, boolean]> = [
    [['prometheus.monitoring'], 'http://prometheus.monitoring:9090', true],
    [['prometheus.monitoring'], 'https://prometheus.monitoring', true],
    [['prometheus.monitoring'], 'http://prometheus.monitoring.evil.example', false],
    [['prometheus.monitoring:9090'], 'http://prometheus.monitoring:9090/api', true],
    [['prometheus.monitoring:9090'], 'http://prometheus.monitoring:9091', false],
    [['https://prom.example.com'], 'http://prom.example.com', false],
    [['https://prom.example.com'], 'https://prom.example.com/prometheus', true],
    [['*.monitoring.svc.cluster.local'], 'http://prometheus.monitoring.svc.cluster.local:9090', true],
    [['*.monitoring.svc.cluster.local'], 'http://monitoring.svc.cluster.local', false],
    [['*.monitoring.svc.cluster.local'], 'http://evilmonitoring.svc.cluster.local', false],
    [['PROM.Example.com'], 'http://prom.example.com', true],
    [['prom.example.com'], 'http://user:pass@prom.example.com', true],
    [['prom.example.com'], 'http://prom.example.com@evil.example', false],
    [['prom.example.com'], 'not a url', false],
    [['10.0.0.5:9090'], 'http://10.0.0.5:9090', true],
  ];
  for (const [entries, address, allowed] of table) {
    test(`${entries.join(',')} ${allowed ? 'allows' : 'refuses'} ${address}`, () => assert.equal(isAddressAllowed(address, policy(...entries)), allowed));
  }
  test('entries that cannot be a host pattern are refused with the entry named', () => {
    for (const bad of ['', 'ftp://x', 'http://u:p@x', 'x/path']) {
      const parsed = parseAddressPolicy([bad]);
      assert.equal(parsed.ok, false, bad);
    }
  });
});

test('addressBeforeArgs: judged before the args only when no value could change the origin', () => {
  assert.equal(addressBeforeArgs('http://metrics.shop:8080/m?key={{args.token}}'), 'http://metrics.shop:8080/m?key={{args.token}}');
  assert.equal(addressBeforeArgs('https://h/{{ args.path }}/x'), 'https://h/{{ args.path }}/x');
  assert.equal(addressBeforeArgs('http://h?k={{args.v}}'), 'http://h?k={{args.v}}');
  for (const address of [
    '{{args.url}}',
    'http://{{args.host}}/x',
    'http://h{{args.suffix}}/x',
    'http://h:{{args.port}}/',
    'http://u:{{args.pw}}@h/',
    'http://{{args.u}}@h/',
  ]) {
    assert.equal(addressBeforeArgs(address), undefined, address);
  }
});
