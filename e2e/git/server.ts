// Git smart HTTP for the e2e suite: a tiny HTTP server on loopback that hands
// every request to `git http-backend` (CGI). Repositories are the bare ones
// under GIT_PROJECT_ROOT; pushes are allowed (http.receivepack is set per repo by
// the harness, and REMOTE_USER is set here).
//
// Environment: GIT_PROJECT_ROOT (required), GIT_HTTP_ADDR=127.0.0.1:PORT (required).
// Every request is logged with method, path and status; GET /healthz answers ok.
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

const BACKEND = process.env.GIT_HTTP_BACKEND ?? '/usr/lib/git-core/git-http-backend';
const root = process.env.GIT_PROJECT_ROOT ?? '';
const [host, port] = (process.env.GIT_HTTP_ADDR ?? '').split(':');
if (!root || !host || !port) {
  process.stderr.write('usage: GIT_PROJECT_ROOT=DIR GIT_HTTP_ADDR=127.0.0.1:PORT node e2e/git/server.ts\n');
  process.exit(2);
}
const log = (msg: string) => process.stdout.write(`${new Date().toISOString()} ${msg}\n`);

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    SERVER_SOFTWARE: 'sluice-e2e-git',
    SERVER_NAME: host,
    SERVER_PORT: port,
    REQUEST_METHOD: req.method ?? 'GET',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.replace(/^\?/, ''),
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    REMOTE_USER: 'e2e',
    CONTENT_TYPE: req.headers['content-type'] ?? '',
  };
  if (req.headers['content-length']) env.CONTENT_LENGTH = req.headers['content-length'];
  // git clients gzip large request bodies; http-backend inflates when told so
  if (req.headers['content-encoding']) env.HTTP_CONTENT_ENCODING = req.headers['content-encoding'];
  // protocol v2 negotiation
  if (req.headers['git-protocol']) env.GIT_PROTOCOL = String(req.headers['git-protocol']);
  if (req.headers.authorization) env.HTTP_AUTHORIZATION = req.headers.authorization;

  const cgi = spawn(BACKEND, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  req.pipe(cgi.stdin);
  cgi.stdin.on('error', () => {});
  let stderr = '';
  cgi.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));

  // Parse the CGI header block, then stream the body.
  let head = Buffer.alloc(0);
  let headersDone = false;
  let status = 0;
  cgi.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    let sep = head.indexOf('\r\n\r\n');
    let sepLen = 4;
    if (sep < 0) {
      sep = head.indexOf('\n\n');
      sepLen = 2;
    }
    if (sep < 0) return;
    headersDone = true;
    const headerText = head.subarray(0, sep).toString('latin1');
    const rest = head.subarray(sep + sepLen);
    status = 200;
    const headers: Record<string, string | string[]> = {};
    for (const line of headerText.split(/\r?\n/)) {
      const i = line.indexOf(':');
      if (i < 0) continue;
      const name = line.slice(0, i).trim();
      const value = line.slice(i + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 200;
      else {
        const prev = headers[name];
        headers[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
      }
    }
    res.writeHead(status, headers);
    if (rest.length) res.write(rest);
  });
  cgi.on('close', (code) => {
    if (!headersDone) {
      status = 502;
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`git http-backend exited ${code} without a response: ${stderr}\n`);
    } else {
      res.end();
    }
    log(`${req.method} ${url.pathname}${url.search} -> ${status}${stderr.trim() ? ` (${stderr.trim()})` : ''}`);
  });
  cgi.on('error', (err) => {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(`cannot run ${BACKEND}: ${err.message}\n`);
  });
}

const server = createServer(handle);
server.listen(Number(port), host, () => log(`git http server on http://${host}:${port}/ serving ${root}`));
const stop = (sig: string) => {
  log(`${sig}: exiting`);
  server.close();
  setTimeout(() => process.exit(0), 200).unref();
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
