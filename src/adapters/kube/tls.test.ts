// The kube adapter over TLS, as against a real API server: the cluster's CA and tls-server-name
// from the kubeconfig, a client certificate the server asks for, and an informer's list and watch
// on the same connection settings. Certificates are made by openssl for the test (skipped without).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { kinds, type KubeObject } from '../../ports/kube.ts';
import { RestKubeClient } from './client.ts';
import { kubeconfigFromText } from './kubeconfig.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-kube-tls-'));
function certificate(name: string, subject: string, san: string): boolean {
  const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', subject, '-addext', `subjectAltName=${san}`];
  const made = spawnSync('openssl', [...args, '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`)], { encoding: 'utf8' });
  return made.status === 0;
}
const made = certificate('server', '/CN=api.internal', 'DNS:api.internal') && certificate('client', '/CN=jane/O=devs', 'DNS:jane');
const skip = made ? false : 'openssl is not installed (or cannot make certificates)';
const b64 = (name: string) => readFileSync(join(dir, name)).toString('base64');

describe('kube adapter over TLS', () => {
  let server: Server | undefined;
  let port = 0;
  const seen: Array<{ cn: unknown; url: string }> = [];
  before(async () => {
    if (skip) return;
    const read = (name: string) => readFileSync(join(dir, name));
    server = createServer(
      { key: read('server.key'), cert: read('server.crt'), ca: read('client.crt'), requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const socket = req.socket as TLSSocket;
        const peer = socket.authorized ? socket.getPeerCertificate().subject : undefined;
        seen.push({ cn: peer?.CN, url: req.url ?? '' });
        if (!peer) {
          res.writeHead(401, { 'content-type': 'application/json' });
          return void res.end(JSON.stringify({ kind: 'Status', reason: 'Unauthorized', message: 'no client certificate' }));
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        if (req.url?.includes('watch=true')) {
          const web = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'ns', resourceVersion: '6' } };
          res.write(`${JSON.stringify({ type: 'ADDED', object: web })}\n`);
          return; // held open
        }
        res.end(JSON.stringify({ metadata: { resourceVersion: '5' }, items: [] }));
      },
    );
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  const kubeconfig = (cluster: string, user: string) =>
    kubeconfigFromText(
      `{clusters: [{name: c, cluster: {server: "https://127.0.0.1:${port}", ${cluster}}}], users: [{name: u, user: {${user}}}],
        contexts: [{name: x, context: {cluster: c, user: u}}], current-context: x}`,
      dir,
    );

  test('the CA and tls-server-name verify the server; the client certificate authenticates; an informer lists and watches', { skip }, async () => {
    const kc = kubeconfig(
      `certificate-authority-data: ${b64('server.crt')}, tls-server-name: api.internal`,
      `client-certificate-data: ${b64('client.crt')}, client-key-data: ${b64('client.key')}`,
    );
    const client = new RestKubeClient(kc);
    assert.deepEqual(await client.list(kinds.service, 'ns'), []);
    assert.equal(seen.at(-1)?.cn, 'jane');
    const informer = client.informer<KubeObject>(kinds.service);
    try {
      await informer.start();
      const deadline = Date.now() + 5000;
      while (!informer.get('ns', 'web') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(informer.get('ns', 'web')?.metadata?.resourceVersion, '6', 'the event of the watch, over TLS');
      assert.equal(seen.filter((s) => s.url.includes('watch=true')).at(-1)?.cn, 'jane', 'the watch with the client certificate');
    } finally {
      await informer.stop();
    }
  });

  test('without the CA, or with the wrong server name, the server is not trusted', { skip }, async () => {
    const user = `client-certificate-data: ${b64('client.crt')}, client-key-data: ${b64('client.key')}`;
    await assert.rejects(new RestKubeClient(kubeconfig('', user)).list(kinds.service, 'ns'), /self-signed certificate|unable to verify/);
    await assert.rejects(
      new RestKubeClient(kubeconfig(`certificate-authority-data: ${b64('server.crt')}`, user)).list(kinds.service, 'ns'),
      /Hostname\/IP does not match|altnames/,
    );
    await assert.rejects(
      new RestKubeClient(kubeconfig(`certificate-authority-data: ${b64('server.crt')}, tls-server-name: api.internal`, 'token: t')).list(kinds.service, 'ns'),
      /401 no client certificate/,
    );
  });
});
