// Our kubeconfig reader: files merged as kubectl merges them, paths relative to their file, -data
// fields, the in-cluster ServiceAccount (a rotated token is read again), exec credential plugins (a
// small node script as the plugin) and the hand-over to client-node for an auth-provider.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type https from 'node:https';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { loadKubeConfig, type KubeAccess } from './kubeconfig.ts';

function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const set = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  set(vars);
  try {
    return fn();
  } finally {
    set(saved);
  }
}

/** A temporary directory for the test, removed after it. */
function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-kubeconfig-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function optionsOf(kc: KubeAccess): Promise<https.RequestOptions & { headers: Record<string, string | string[]> }> {
  const o: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(o);
  return o as https.RequestOptions & { headers: Record<string, string | string[]> };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('$KUBECONFIG files are merged as kubectl merges them: the first file to name an entry wins, and the first current-context', async (t) => {
  const dir = tempDir(t);
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  writeFileSync(
    a,
    `clusters: [{name: shared, cluster: {server: "https://a.example:6443"}}]
users: [{name: shared, user: {token: from-a}}]
contexts: [{name: one, context: {cluster: shared, user: shared}}]
current-context: one
`,
  );
  writeFileSync(
    b,
    `clusters: [{name: shared, cluster: {server: "https://b.example:6443"}}, {name: only-b, cluster: {server: "https://only-b.example"}}]
users: [{name: shared, user: {token: from-b}}, {name: bu, user: {token: b-token}}]
contexts: [{name: one, context: {cluster: only-b, user: bu}}, {name: two, context: {cluster: only-b, user: bu, namespace: team-b}}]
current-context: two
`,
  );
  const [kc, two] = withEnv({ KUBECONFIG: [a, b].join(delimiter) }, () => [loadKubeConfig(), loadKubeConfig(undefined, { context: 'two' })]);
  assert.equal(kc.server, 'https://a.example:6443', "a's current-context and a's cluster of that name");
  assert.equal((await optionsOf(kc)).headers.Authorization, 'Bearer from-a');
  assert.deepEqual(kc.contexts, [
    { name: 'one', cluster: 'shared' },
    { name: 'two', cluster: 'only-b' },
  ]);
  assert.equal(two.server, 'https://only-b.example');
  assert.equal(two.namespace, 'team-b');
  assert.equal((await optionsOf(two)).headers.Authorization, 'Bearer b-token');
  const ba = withEnv({ KUBECONFIG: [b, a].join(delimiter) }, () => loadKubeConfig());
  assert.equal(ba.server, 'https://only-b.example', 'now b is first');
  assert.equal(ba.namespace, 'team-b');
  // An explicit path wins over $KUBECONFIG; $KUBECONFIG over ~/.kube/config.
  mkdirSync(join(dir, '.kube'));
  writeFileSync(
    join(dir, '.kube', 'config'),
    `clusters: [{name: h, cluster: {server: "https://home.example"}}]\ncontexts: [{name: h, context: {cluster: h}}]\ncurrent-context: h\n`,
  );
  withEnv({ KUBECONFIG: b, HOME: dir }, () => {
    assert.equal(loadKubeConfig(a).server, 'https://a.example:6443');
    assert.equal(loadKubeConfig().server, 'https://only-b.example');
  });
  withEnv({ KUBECONFIG: undefined, HOME: dir }, () => assert.equal(loadKubeConfig().server, 'https://home.example'));
});

test('paths are relative to the kubeconfig that names them; -data fields are base64; the file wins over -data', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'certs'));
  writeFileSync(join(dir, 'certs', 'ca.pem'), 'CA FROM FILE');
  writeFileSync(join(dir, 'certs', 'client.pem'), 'CERT FROM FILE');
  writeFileSync(join(dir, 'certs', 'client.key'), 'KEY FROM FILE');
  writeFileSync(join(dir, 'certs', 'token'), 'file-token\n');
  const file = join(dir, 'config');
  writeFileSync(
    file,
    `clusters:
- name: files
  cluster: {server: "https://files.example/", certificate-authority: certs/ca.pem, certificate-authority-data: ${b64('ignored')}, tls-server-name: api.internal}
- {name: data, cluster: {server: "https://data.example", certificate-authority-data: ${b64('CA FROM DATA')}, insecure-skip-tls-verify: true}}
users:
- {name: files, user: {client-certificate: certs/client.pem, client-key: ./certs/client.key, tokenFile: certs/token}}
- {name: data, user: {client-certificate-data: ${b64('CERT FROM DATA')}, client-key-data: ${b64('KEY FROM DATA')}, username: admin, password: secret}}
- {name: imp, user: {token: t, as: jane, as-groups: [devs, ops], as-uid: "42"}}
contexts:
- {name: files, context: {cluster: files, user: files}}
- {name: data, context: {cluster: data, user: data}}
- {name: imp, context: {cluster: data, user: imp}}
current-context: files
`,
  );
  // Read from elsewhere: the paths still resolve against the file's directory.
  const cwd = process.cwd();
  process.chdir(tmpdir());
  t.after(() => process.chdir(cwd));
  const files = await optionsOf(loadKubeConfig(file));
  assert.equal(loadKubeConfig(file).server, 'https://files.example', 'a trailing slash dropped');
  assert.equal(String(files.ca), 'CA FROM FILE');
  assert.equal(String(files.cert), 'CERT FROM FILE');
  assert.equal(String(files.key), 'KEY FROM FILE');
  assert.equal(files.servername, 'api.internal');
  assert.equal(files.rejectUnauthorized, undefined, 'verified unless the kubeconfig says otherwise');
  assert.equal(files.headers.Authorization, 'Bearer file-token');
  const data = await optionsOf(loadKubeConfig(file, { context: 'data' }));
  assert.equal(String(data.ca), 'CA FROM DATA');
  assert.equal(String(data.cert), 'CERT FROM DATA');
  assert.equal(String(data.key), 'KEY FROM DATA');
  assert.equal(data.rejectUnauthorized, false);
  assert.equal(data.auth, 'admin:secret');
  const imp = await optionsOf(loadKubeConfig(file, { context: 'imp' }));
  assert.equal(imp.headers['Impersonate-User'], 'jane');
  assert.deepEqual(imp.headers['Impersonate-Group'], ['devs', 'ops']);
  assert.equal(imp.headers['Impersonate-Uid'], '42');
  // A file that names a missing certificate says which.
  writeFileSync(
    file,
    `clusters: [{name: c, cluster: {server: "https://x", certificate-authority: nope.pem}}]
contexts: [{name: c, context: {cluster: c}}]
current-context: c
`,
  );
  await assert.rejects(optionsOf(loadKubeConfig(file)), new RegExp(`cannot read the certificate authority ${join(dir, 'nope.pem')}`));
  writeFileSync(file, `clusters: [{name: c, cluster: {}}]\n`);
  assert.throws(() => loadKubeConfig(file), /cannot read kubeconfig .*: clusters\[0\]\.cluster\.server is missing/);
});

test('in a cluster: the ServiceAccount token (read again after the kubelet rotates it), its CA and namespace', async (t) => {
  const dir = tempDir(t);
  const sa = join(dir, 'sa');
  mkdirSync(sa);
  writeFileSync(join(sa, 'token'), 'first-token');
  writeFileSync(join(sa, 'ca.crt'), 'CLUSTER CA');
  writeFileSync(join(sa, 'namespace'), 'sluice-system\n');
  const env = { KUBECONFIG: undefined, HOME: dir, KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
  const kc = withEnv(env, () => loadKubeConfig(undefined, { serviceAccountDir: sa }));
  assert.equal(kc.server, 'https://10.0.0.1:443');
  assert.equal(kc.namespace, 'sluice-system');
  const first = await optionsOf(kc);
  assert.equal(first.headers.Authorization, 'Bearer first-token');
  assert.equal(String(first.ca), 'CLUSTER CA');
  writeFileSync(join(sa, 'token'), 'rotated-token');
  assert.equal((await optionsOf(kc)).headers.Authorization, 'Bearer rotated-token');
  const v6 = withEnv({ ...env, KUBERNETES_SERVICE_HOST: 'fd00::1' }, () => loadKubeConfig(undefined, { serviceAccountDir: sa }));
  assert.equal(v6.server, 'https://[fd00::1]:443');
  assert.throws(
    () => withEnv(env, () => loadKubeConfig(undefined, { serviceAccountDir: join(dir, 'none') })),
    /KUBERNETES_SERVICE_HOST is set\) but no ServiceAccount token at/,
  );
  assert.throws(
    () => withEnv(env, () => loadKubeConfig(undefined, { serviceAccountDir: sa, context: 'other' })),
    /context "other" not found in the kubeconfig \(contexts: inClusterContext\)/,
  );
});

/** A credential plugin: counts its runs, records its KUBERNETES_EXEC_INFO, prints what $MODE says. */
const PLUGIN = `import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
const dir = process.env.PLUGIN_DIR;
appendFileSync(dir + '/runs', 'x');
writeFileSync(dir + '/info.json', process.env.KUBERNETES_EXEC_INFO ?? '');
const runs = readFileSync(dir + '/runs', 'utf8').length;
if (process.env.MODE === 'fail') { process.stderr.write('error: your login has expired, run "corp login"\\n'); process.exit(3); }
const apiVersion = JSON.parse(process.env.KUBERNETES_EXEC_INFO).apiVersion;
const status = process.env.MODE === 'cert'
  ? { clientCertificateData: 'PEM CERT', clientKeyData: 'PEM KEY' }
  : { token: 'secret-token-' + runs, ...(process.env.EXPIRES ? { expirationTimestamp: process.env.EXPIRES } : {}) };
process.stdout.write(JSON.stringify({ apiVersion, kind: 'ExecCredential', status }));
`;

function execKubeconfig(dir: string, users: Record<string, Record<string, unknown>>): string {
  const file = join(dir, 'config');
  const names = Object.keys(users);
  writeFileSync(
    file,
    JSON.stringify({
      clusters: [{ name: 'c', cluster: { server: 'https://api.example:6443', 'certificate-authority-data': b64('CA') } }],
      users: names.map((name) => ({ name, user: { exec: users[name] } })),
      contexts: names.map((name) => ({ name, context: { cluster: 'c', user: name } })),
      'current-context': names[0],
    }),
  );
  return file;
}

test('exec credential plugins: the token, reused until it expires, KUBERNETES_EXEC_INFO, a client certificate', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'plugin.mjs'), PLUGIN);
  const env = (vars: Record<string, string>) => Object.entries({ PLUGIN_DIR: dir, ...vars }).map(([name, value]) => ({ name, value }));
  const plugin = (apiVersion: string, vars: Record<string, string> = {}, extra = {}) => ({
    apiVersion,
    command: process.execPath,
    args: [join(dir, 'plugin.mjs')],
    env: env(vars),
    ...extra,
  });
  const later = new Date(Date.now() + 3600_000).toISOString();
  const file = execKubeconfig(dir, {
    lasting: plugin('client.authentication.k8s.io/v1', { EXPIRES: later }, { provideClusterInfo: true }),
    expired: plugin('client.authentication.k8s.io/v1beta1', { EXPIRES: new Date(Date.now() - 1000).toISOString() }),
    cert: plugin('client.authentication.k8s.io/v1', { MODE: 'cert' }),
  });
  const runs = () => readFileSync(join(dir, 'runs'), 'utf8').length;

  const lasting = loadKubeConfig(file);
  assert.equal((await optionsOf(lasting)).headers.Authorization, 'Bearer secret-token-1');
  assert.equal((await optionsOf(lasting)).headers.Authorization, 'Bearer secret-token-1', 'reused until it expires');
  assert.equal(runs(), 1);
  const info = JSON.parse(readFileSync(join(dir, 'info.json'), 'utf8'));
  assert.equal(info.apiVersion, 'client.authentication.k8s.io/v1');
  assert.equal(info.kind, 'ExecCredential');
  assert.equal(info.spec.interactive, false);
  assert.equal(info.spec.cluster.server, 'https://api.example:6443', 'provideClusterInfo');
  assert.equal(info.spec.cluster['certificate-authority-data'], b64('CA'));

  const expired = loadKubeConfig(file, { context: 'expired' });
  assert.equal((await optionsOf(expired)).headers.Authorization, 'Bearer secret-token-2');
  assert.equal((await optionsOf(expired)).headers.Authorization, 'Bearer secret-token-3', 'an expired credential is asked for again');
  assert.equal(JSON.parse(readFileSync(join(dir, 'info.json'), 'utf8')).spec.cluster, undefined, 'no cluster info unless asked');

  const cert = await optionsOf(loadKubeConfig(file, { context: 'cert' }));
  assert.equal(cert.cert, 'PEM CERT');
  assert.equal(cert.key, 'PEM KEY');
  assert.equal(cert.headers.Authorization, undefined);
});

test('exec credential plugins: a failing or missing plugin is a clear error with its stderr, and never shows a token', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'plugin.mjs'), PLUGIN);
  writeFileSync(
    join(dir, 'print-token.sh'),
    '#!/bin/sh\necho \'{"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "Other", "status": {"token": "leaked-token"}}\'\n',
  );
  chmodSync(join(dir, 'print-token.sh'), 0o755);
  const v1 = 'client.authentication.k8s.io/v1';
  const file = execKubeconfig(dir, {
    failing: {
      apiVersion: v1,
      command: process.execPath,
      args: [join(dir, 'plugin.mjs')],
      env: [
        { name: 'PLUGIN_DIR', value: dir },
        { name: 'MODE', value: 'fail' },
      ],
    },
    missing: { apiVersion: v1, command: 'sluice-no-such-plugin', installHint: 'Install it with: brew install corp-login' },
    // A relative command is relative to the kubeconfig's directory.
    wrong: { apiVersion: v1, command: './print-token.sh' },
  });
  await assert.rejects(
    optionsOf(loadKubeConfig(file)),
    /exec credential plugin ".*" of user "failing" failed with exit code 3: error: your login has expired, run "corp login"/,
  );
  await assert.rejects(
    optionsOf(loadKubeConfig(file, { context: 'missing' })),
    /"sluice-no-such-plugin" of user "missing" not found .*brew install corp-login/,
  );
  const err = await optionsOf(loadKubeConfig(file, { context: 'wrong' })).then(
    () => assert.fail('an ExecCredential of the wrong version was taken'),
    (e: Error) => e,
  );
  assert.match(err.message, /printed a client.authentication.k8s.io\/v1beta1 Other, not the client.authentication.k8s.io\/v1 ExecCredential/);
  assert.doesNotMatch(err.message, /leaked-token/);
});

test('a user with an auth-provider is authenticated by client-node, loaded for it alone', async (t) => {
  const dir = tempDir(t);
  const jwt = [{ alg: 'none' }, { exp: Math.floor(Date.now() / 1000) + 3600, sub: 'jane' }, {}]
    .map((p) => Buffer.from(JSON.stringify(p)).toString('base64url'))
    .join('.');
  const file = join(dir, 'config');
  writeFileSync(
    file,
    JSON.stringify({
      clusters: [{ name: 'c', cluster: { server: 'https://oidc.example', 'certificate-authority': 'ca.pem' } }],
      users: [{ name: 'oidc', user: { 'auth-provider': { name: 'oidc', config: { 'id-token': jwt, 'client-id': 'kubectl' } } } }],
      contexts: [{ name: 'oidc', context: { cluster: 'c', user: 'oidc' } }],
      'current-context': 'oidc',
    }),
  );
  writeFileSync(join(dir, 'ca.pem'), 'OIDC CLUSTER CA');
  const o = await optionsOf(loadKubeConfig(file));
  assert.equal(o.headers.Authorization, `Bearer ${jwt}`);
  assert.equal(String(o.ca), 'OIDC CLUSTER CA', 'with the CA path made absolute for it');
  assert.ok(o.agent, "client-node's agent (the REST client puts its TLS options on a keep-alive one)");
});
