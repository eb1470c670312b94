// Loopback relays that let a peer controller run in a network namespace of its own.
// Argo Rollouts and Flagger bind their metrics/health servers to every interface
// (0.0.0.0, no flag changes that), while everything here must listen on loopback only.
// So each peer runs under `unshare --net` (a namespace with nothing but its own `lo`),
// and these relays carry its connections to the API server and Prometheus:
//   peer -> 127.0.0.1:P (inside, relayIn) -> unix socket -> 127.0.0.1:P (outside, relayOut)
// The addresses stay the same inside and outside, so the kubeconfig and its certificate
// (issued for 127.0.0.1) work as they are.
//   node bench/lib/relay.ts DIR READY_FILE PORT...    (the inside half; relayOut runs in the bench)
import { connect, createServer, type Server, type Socket } from 'node:net';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const socketPath = (dir: string, port: number) => join(dir, `tcp-${port}.sock`);

function pipe(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const end = () => {
    a.destroy();
    b.destroy();
  };
  a.on('error', end).on('close', end);
  b.on('error', end).on('close', end);
}

/** Outside the namespace: unix socket DIR/tcp-P.sock -> 127.0.0.1:P, for each port. */
export async function relayOut(dir: string, ports: number[]): Promise<{ close(): Promise<void> }> {
  const servers: Server[] = [];
  for (const port of ports) {
    const path = socketPath(dir, port);
    rmSync(path, { force: true });
    const server = createServer((s) => pipe(s, connect({ host: '127.0.0.1', port })));
    await new Promise<void>((res, rej) => server.once('error', rej).listen(path, () => res()));
    servers.push(server);
  }
  return {
    close: async () => {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(() => r(undefined)))));
    },
  };
}

/** Inside the namespace: 127.0.0.1:P -> unix socket DIR/tcp-P.sock, for each port. */
async function relayIn(dir: string, readyFile: string, ports: number[]): Promise<void> {
  for (const port of ports) {
    const server = createServer((s) => pipe(s, connect({ path: socketPath(dir, port) })));
    await new Promise<void>((res, rej) => server.once('error', rej).listen(port, '127.0.0.1', () => res()));
  }
  writeFileSync(readyFile, `${process.pid}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [dir, readyFile, ...ports] = process.argv.slice(2);
  if (!dir || !readyFile || ports.length === 0) {
    process.stderr.write('usage: node bench/lib/relay.ts DIR READY_FILE PORT...\n');
    process.exit(2);
  }
  await relayIn(dir, readyFile, ports.map(Number));
}
