// A real Kubernetes control plane on loopback: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, and kwok playing the kubelets of fake
// Nodes. Binaries come from e2e/cluster/build.sh (built once into a cache).
// With E2E_KUBECONFIG set, that cluster is used instead and nothing is started.
// Long file (~500 lines) on purpose: the five processes depend on each other's certificates,
// ports and readiness in one start order, which reads best in one place.
import { spawn } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, log, repoRoot, runOk, startProcess, type ManagedProcess } from './proc.ts';
import { waitFor } from './wait.ts';
import { makeKubectl } from './kubectl.ts';

export interface ClusterOptions {
  /** Directory for this cluster's files (certs, etcd data, logs, kubeconfig). */
  stateDir: string;
  /** Number of fake kwok Nodes (default 2). */
  nodes?: number;
  /** Use this kubeconfig instead of starting a cluster (default: $E2E_KUBECONFIG). */
  externalKubeconfig?: string;
  /** Pods each kwok Node takes (capacity and allocatable; default 110, a kubelet's default). */
  nodePods?: number;
  /** Extra kube-apiserver flags (e.g. an audit log), after the defaults so they win. */
  apiserverArgs?: string[];
  /** Extra kube-controller-manager flags (e.g. --kube-api-qps=500), after the defaults so they win. */
  controllerManagerArgs?: string[];
  /** Extra kube-scheduler flags, after the defaults so they win. */
  schedulerArgs?: string[];
}

export interface ClusterHandle {
  /** Path of an admin kubeconfig for this cluster. */
  kubeconfig: string;
  /** True when E2E_KUBECONFIG points at a cluster this harness did not start. */
  external: boolean;
  /** https://127.0.0.1:PORT (local cluster) or the kubeconfig's server. */
  server: string;
  /** Names of the fake Nodes created (empty for an external cluster). */
  nodes: string[];
  /** Processes started, for descriptors and diagnostics. */
  processes(): ManagedProcess[];
  /** Stops and starts kube-apiserver on the same port (resilience scenarios). */
  restartApiserver(): Promise<void>;
  stop(): Promise<void>;
}

const BUILD_SCRIPT = join(repoRoot, 'e2e', 'cluster', 'build.sh');

/** Runs build.sh (a no-op when the cache is warm), streaming its progress. Returns the bin dir. */
export async function buildClusterBinaries(): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', [BUILD_SCRIPT], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let last = '';
    const errTail: string[] = [];
    createInterface({ input: child.stdout }).on('line', (l) => {
      if (l.trim()) last = l.trim();
    });
    createInterface({ input: child.stderr }).on('line', (l) => {
      errTail.push(l);
      if (errTail.length > 40) errTail.shift();
      // build.sh prefixes its own lines; go's output is shown as is
      process.stderr.write(`${l}\n`);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 && last && existsSync(join(last, 'kube-apiserver'))) resolvePromise(last);
      else reject(new Error(`e2e/cluster/build.sh exited ${code}:\n${errTail.join('\n')}`));
    });
  });
}

function httpGet(url: string, tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; insecure?: boolean }): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const u = new URL(url);
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(
      url,
      {
        method: 'GET',
        timeout: 3000,
        ...(tls ? { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: !tls.insecure } : {}),
      },
      (resp) => {
        const chunks: Buffer[] = [];
        resp.on('data', (c: Buffer) => chunks.push(c));
        resp.on('end', () => res({ status: resp.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', rej);
    req.end();
  });
}

/** Fails fast with the process log when a component exits while we wait for it. */
async function waitHealthy(proc: ManagedProcess, what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  await waitFor(
    what,
    async () => {
      if (!proc.isRunning()) {
        const tail = readFileSync(proc.logFile, 'utf8').split('\n').slice(-25).join('\n');
        // a thrown error with this marker is rethrown at once by the outer catch
        throw Object.assign(new Error(`${proc.name} exited; log tail (${proc.logFile}):\n${tail}`), {
          fatal: true,
        });
      }
      return check();
    },
    { timeoutMs, intervalMs: 200 },
  ).catch((err: Error & { lastError?: { fatal?: boolean; message: string } }) => {
    if (err.lastError?.fatal) throw new Error(err.lastError.message);
    const tail = existsSync(proc.logFile) ? readFileSync(proc.logFile, 'utf8').split('\n').slice(-25).join('\n') : '';
    throw new Error(`${err.message}\n${proc.name} log tail (${proc.logFile}):\n${tail}`);
  });
}

async function makeCerts(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const o = (args: string[]) => runOk('openssl', args, { cwd: dir, timeoutMs: 30_000 });
  const subjEcKey = (name: string) => o(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', name]);
  await Promise.all([subjEcKey('ca.key'), subjEcKey('apiserver.key'), subjEcKey('admin.key'), o(['genrsa', '-out', 'sa.key', '2048'])]);
  await o(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
  await o([
    'req',
    '-x509',
    '-new',
    '-key',
    'ca.key',
    '-days',
    '3650',
    '-subj',
    '/CN=sluice-e2e-ca',
    '-out',
    'ca.crt',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
  ]);
  writeFileSync(
    join(dir, 'apiserver.ext'),
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' +
      'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,' +
      'DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n',
  );
  writeFileSync(join(dir, 'admin.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');
  await Promise.all([
    o(['req', '-new', '-key', 'apiserver.key', '-subj', '/CN=kube-apiserver', '-out', 'apiserver.csr']),
    // O=system:masters: the admin identity is bound to cluster-admin by RBAC's bootstrap policy
    o(['req', '-new', '-key', 'admin.key', '-subj', '/O=system:masters/CN=sluice-e2e-admin', '-out', 'admin.csr']),
  ]);
  for (const n of ['apiserver', 'admin']) {
    await o([
      'x509',
      '-req',
      '-in',
      `${n}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '3650',
      '-extfile',
      `${n}.ext`,
      '-out',
      `${n}.crt`,
    ]);
  }
}

function kubeconfigYaml(server: string, certDir: string): string {
  const b64 = (f: string) => readFileSync(join(certDir, f)).toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
- name: sluice-e2e
  cluster:
    server: ${server}
    certificate-authority-data: ${b64('ca.crt')}
users:
- name: sluice-e2e-admin
  user:
    client-certificate-data: ${b64('admin.crt')}
    client-key-data: ${b64('admin.key')}
contexts:
- name: sluice-e2e
  context:
    cluster: sluice-e2e
    user: sluice-e2e-admin
    namespace: default
current-context: sluice-e2e
`;
}

function nodeManifest(name: string, pods: number): string {
  return `apiVersion: v1
kind: Node
metadata:
  name: ${name}
  annotations:
    node.alpha.kubernetes.io/ttl: "0"
    kwok.x-k8s.io/node: fake
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: ${name}
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
    type: kwok
status:
  allocatable:
    cpu: "32"
    memory: 256Gi
    pods: "${pods}"
  capacity:
    cpu: "32"
    memory: 256Gi
    pods: "${pods}"
`;
}

/** Starts the local cluster (or attaches to E2E_KUBECONFIG). */
export async function startCluster(opts: ClusterOptions): Promise<ClusterHandle> {
  const external = opts.externalKubeconfig ?? process.env.E2E_KUBECONFIG;
  if (external) {
    if (!existsSync(external)) throw new Error(`E2E_KUBECONFIG=${external} does not exist`);
    const k = makeKubectl(external);
    const server = (await k.ok(['config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}'])).trim();
    await k.ok(['version', '-o', 'json']);
    log('cluster', `using the existing cluster at ${server} (E2E_KUBECONFIG)`);
    return {
      kubeconfig: external,
      external: true,
      server,
      nodes: [],
      processes: () => [],
      restartApiserver: async () => {
        throw new Error('restartApiserver is not available for an external cluster (E2E_KUBECONFIG)');
      },
      stop: async () => {},
    };
  }

  const t0 = Date.now();
  const bin = await buildClusterBinaries();
  const dir = join(opts.stateDir, 'cluster');
  const certDir = join(dir, 'pki');
  const logs = join(opts.stateDir, 'logs');
  mkdirSync(logs, { recursive: true });
  const procs: ManagedProcess[] = [];
  const stopAllOwn = async () => {
    for (const p of [...procs].reverse()) await p.stop(p.name === 'kube-apiserver' ? 3000 : 5000);
  };

  try {
    const [etcdPort, etcdPeerPort, apiPort, kcmPort, schedPort, kwokPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ] as [number, number, number, number, number, number];
    const certsP = makeCerts(certDir);

    // etcd
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcd = startProcess({
      name: 'etcd',
      cmd: join(bin, 'etcd'),
      args: [
        '--name=e2e',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-cluster=e2e=http://127.0.0.1:${etcdPeerPort}`,
        '--unsafe-no-fsync=true',
        '--quota-backend-bytes=2147483648',
        '--log-level=warn',
      ],
      logFile: join(logs, 'etcd.log'),
    });
    procs.push(etcd);
    await certsP;
    await waitHealthy(
      etcd,
      'etcd /health',
      async () => {
        const r = await httpGet(`${etcdUrl}/health`).catch(() => undefined);
        return r?.status === 200 && r.body.includes('true');
      },
      30_000,
    );
    log('cluster', `etcd ready on ${etcdUrl}`);

    // kube-apiserver
    const server = `https://127.0.0.1:${apiPort}`;
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigYaml(server, certDir), { mode: 0o600 });
    const tls = {
      ca: readFileSync(join(certDir, 'ca.crt')),
      cert: readFileSync(join(certDir, 'admin.crt')),
      key: readFileSync(join(certDir, 'admin.key')),
    };
    const apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'apiserver-certs')}`,
      `--tls-cert-file=${join(certDir, 'apiserver.crt')}`,
      `--tls-private-key-file=${join(certDir, 'apiserver.key')}`,
      `--client-ca-file=${join(certDir, 'ca.crt')}`,
      '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(certDir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(certDir, 'sa.key')}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      // a loopback address cannot be an Endpoints address: don't publish one
      '--endpoint-reconciler-type=none',
      '--allow-privileged=true',
      '--profiling=false',
      '--v=1',
      ...(opts.apiserverArgs ?? []),
    ];
    const startApiserver = (append: boolean) =>
      startProcess({
        name: 'kube-apiserver',
        cmd: join(bin, 'kube-apiserver'),
        args: apiserverArgs,
        logFile: join(logs, 'kube-apiserver.log'),
        append,
      });
    const apiserverReady = (p: ManagedProcess) =>
      waitHealthy(
        p,
        'kube-apiserver /readyz',
        async () => {
          const r = await httpGet(`${server}/readyz`, tls).catch(() => undefined);
          return r?.status === 200;
        },
        90_000,
      );
    let apiserver = startApiserver(false);
    procs.push(apiserver);
    await apiserverReady(apiserver);
    log('cluster', `kube-apiserver ready on ${server}`);

    // kube-controller-manager, kube-scheduler, kwok
    const common = [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
    ];
    const kcm = startProcess({
      name: 'kube-controller-manager',
      cmd: join(bin, 'kube-controller-manager'),
      args: [
        ...common,
        `--secure-port=${kcmPort}`,
        `--service-account-private-key-file=${join(certDir, 'sa.key')}`,
        `--root-ca-file=${join(certDir, 'ca.crt')}`,
        '--use-service-account-credentials=false',
        '--controllers=*,-csrsigning,-csrapproving,-nodeipam',
        // kwok heartbeats its Nodes every 20-45s (plus jitter), too close to the default 50s
        // grace: a late heartbeat made the node lifecycle controller mark every pod NotReady,
        // and kwok never makes a pod Ready again
        '--node-monitor-grace-period=1h',
        '--v=1',
        ...(opts.controllerManagerArgs ?? []),
      ],
      logFile: join(logs, 'kube-controller-manager.log'),
    });
    procs.push(kcm);
    const scheduler = startProcess({
      name: 'kube-scheduler',
      cmd: join(bin, 'kube-scheduler'),
      args: [...common, `--secure-port=${schedPort}`, '--v=1', ...(opts.schedulerArgs ?? [])],
      logFile: join(logs, 'kube-scheduler.log'),
    });
    procs.push(scheduler);
    const kwokConfig = join(dir, 'kwok.yaml');
    // An explicit (empty) config so a ~/.kwok/kwok.yaml on the machine is not picked
    // up; without Stage objects kwok uses its built-in node-fast and pod-fast stages
    // (nodes Ready with heartbeats; pods scheduled to its nodes Running and Ready).
    writeFileSync(kwokConfig, 'apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokConfiguration\noptions: {}\n');
    const kwok = startProcess({
      name: 'kwok',
      cmd: join(bin, 'kwok'),
      args: [
        `--kubeconfig=${kubeconfig}`,
        `--config=${kwokConfig}`,
        '--manage-all-nodes=false',
        '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
        `--server-address=127.0.0.1:${kwokPort}`,
        '--cidr=10.244.0.1/16',
        '--node-ip=127.0.0.1',
      ],
      logFile: join(logs, 'kwok.log'),
    });
    procs.push(kwok);

    const insecure = { insecure: true };
    await Promise.all([
      waitHealthy(
        kcm,
        'kube-controller-manager /healthz',
        async () => {
          const r = await httpGet(`https://127.0.0.1:${kcmPort}/healthz`, insecure).catch(() => undefined);
          return r?.status === 200;
        },
        60_000,
      ),
      waitHealthy(
        scheduler,
        'kube-scheduler /healthz',
        async () => {
          const r = await httpGet(`https://127.0.0.1:${schedPort}/healthz`, insecure).catch(() => undefined);
          return r?.status === 200;
        },
        60_000,
      ),
      waitHealthy(
        kwok,
        'kwok /healthz',
        async () => {
          const r = await httpGet(`http://127.0.0.1:${kwokPort}/healthz`).catch(() => undefined);
          return r?.status === 200;
        },
        60_000,
      ),
    ]);
    log('cluster', 'kube-controller-manager, kube-scheduler and kwok healthy');

    const kubectl = makeKubectl(kubeconfig);
    const nodes = Array.from({ length: opts.nodes ?? 2 }, (_, i) => `kwok-node-${i}`);
    await kubectl.apply(nodes.map((n) => nodeManifest(n, opts.nodePods ?? 110)).join('---\n'));
    await waitHealthy(
      kwok,
      `nodes ${nodes.join(', ')} Ready`,
      async () => {
        const r = await kubectl.json<{ items: Array<{ status?: { conditions?: Array<{ type: string; status: string }> } }> }>([
          'get',
          'nodes',
          '-l',
          'type=kwok',
          '-o',
          'json',
        ]);
        const ready = r.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
        return ready.length === nodes.length;
      },
      60_000,
    );
    // the ServiceAccount controller must have run before pods can be created
    await waitHealthy(
      kcm,
      'ServiceAccount default/default',
      async () => {
        const r = await kubectl.run(['get', 'serviceaccount', 'default', '-n', 'default', '-o', 'name']);
        return r.code === 0;
      },
      60_000,
    );
    log('cluster', `${nodes.length} kwok nodes Ready; cluster up in ${((Date.now() - t0) / 1000).toFixed(1)}s`);

    return {
      kubeconfig,
      external: false,
      server,
      nodes,
      processes: () => [...procs],
      async restartApiserver() {
        log('cluster', 'restarting kube-apiserver');
        // it stops listening at once but can linger on open watches: don't wait long
        await apiserver.stop(3000);
        const i = procs.indexOf(apiserver);
        apiserver = startApiserver(true);
        if (i >= 0) procs[i] = apiserver;
        else procs.push(apiserver);
        await apiserverReady(apiserver);
        log('cluster', 'kube-apiserver back');
      },
      async stop() {
        await stopAllOwn();
      },
    };
  } catch (err) {
    await stopAllOwn();
    throw err;
  }
}
