// The controller does not load @kubernetes/client-node (about 85 MiB of RSS) for a kubeconfig with
// client certificates or a token: a child Node imports every module main.ts imports (main.ts
// itself would start the controller), connects to a stand-in API server with our kube adapter,
// lists and starts an informer, and reports every module URL it resolved. An auth-provider user is
// the control: client-node is loaded for it, so the check can see a load when there is one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const here = new URL('.', import.meta.url);
const mainImports = [...readFileSync(new URL('main.ts', here), 'utf8').matchAll(/^import (?!type )[^;]*? from '(\.\/[^']+)';$/gms)].map(
  (m) => new URL(m[1] as string, here).href,
);

const CHILD = `
import { registerHooks } from 'node:module';
const resolved = [];
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); resolved.push(r.url); return r; } });
for (const url of JSON.parse(process.env.MODULES)) await import(url);
const { loadKubeConfig, RestKubeClient } = await import(process.env.CLIENT);
const client = new RestKubeClient(loadKubeConfig(process.env.KUBECONFIG_FILE));
await client.list({ apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true }, 'ns');
const informer = client.informer({ apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true });
await informer.start();
await informer.stop();
const { writeFileSync } = await import('node:fs');
writeFileSync(process.env.RESULT, JSON.stringify(resolved.filter((u) => u.includes('/node_modules/@kubernetes/client-node/'))));
process.exit(0);
`;

async function clientNodeModulesLoaded(kubeconfig: string): Promise<string[]> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
    env: {
      ...process.env,
      MODULES: JSON.stringify(mainImports),
      CLIENT: new URL('adapters/kube/client.ts', here).href,
      KUBECONFIG_FILE: kubeconfig,
      RESULT: `${kubeconfig}.loaded.json`,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, `the child failed: ${err}`);
  return JSON.parse(readFileSync(`${kubeconfig}.loaded.json`, 'utf8')) as string[];
}

test('the controller loads no module of @kubernetes/client-node for certificates or a token; an auth-provider user loads it', async (t) => {
  assert.ok(mainImports.length > 10 && mainImports.some((u) => u.endsWith('/adapters/kube/client.ts')), `main.ts imports: ${mainImports.join(', ')}`);
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url?.includes('watch=true')) return void res.flushHeaders(); // held open until the informer stops
    res.end(JSON.stringify({ metadata: { resourceVersion: '1' }, items: [] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dir = mkdtempSync(join(tmpdir(), 'sluice-imports-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
    server.closeAllConnections();
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const kubeconfig = (name: string, user: Record<string, unknown>) => {
    const file = join(dir, name);
    writeFileSync(
      file,
      JSON.stringify({
        clusters: [{ name: 'c', cluster: { server: `http://127.0.0.1:${port}`, 'certificate-authority-data': b64('CA'), 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'u', user }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    return file;
  };
  const jwt = [{ alg: 'none' }, { exp: Math.floor(Date.now() / 1000) + 3600 }, {}].map((p) => b64(JSON.stringify(p))).join('.');
  const [certs, token, oidc] = await Promise.all([
    clientNodeModulesLoaded(kubeconfig('certs', { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') })),
    clientNodeModulesLoaded(kubeconfig('token', { token: 'secret' })),
    clientNodeModulesLoaded(kubeconfig('oidc', { 'auth-provider': { name: 'oidc', config: { 'id-token': jwt } } })),
  ]);
  assert.deepEqual(certs, [], 'client certificates');
  assert.deepEqual(token, [], 'a token');
  assert.ok(
    oidc.some((u) => u.endsWith('/dist/index.js')),
    `the control: an auth-provider user loads client-node (${oidc.length} modules of it resolved, should be many)`,
  );
});
