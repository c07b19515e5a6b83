// The benchmark's HTTP backend, run as its own process:
//   node dist/bench/http-backend.js <port> [--exit-on-stdin-close]
// A plain node:http server answering every request with a short fixed body, keep-alive on (unless
// the client asks for `Connection: close`). It prints "listening <port>" once bound, and exits on
// SIGTERM/SIGINT, or with the flag when its parent goes away (the stdin pipe closes).
import http from 'node:http';

const BODY = Buffer.from('hello\n');

function main(): void {
  const port = Number(process.argv[2]);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    process.stderr.write('usage: http-backend.js <port>\n');
    process.exit(2);
  }
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': BODY.length });
    res.end(BODY);
  });
  // wrk keeps its 50 connections open for the whole run; never let the backend cut them short.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 121_000;
  server.requestTimeout = 0;
  server.maxRequestsPerSocket = 0;
  server.on('connection', (socket) => socket.setNoDelay(true));
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (process.argv.includes('--exit-on-stdin-close')) {
    // The parent holds our stdin pipe open; when it dies without cleaning up, we go too.
    process.stdin.on('end', stop);
    process.stdin.on('close', stop);
    process.stdin.resume();
  }
  server.listen({ port, host: '127.0.0.1', backlog: 4096 }, () => {
    process.stdout.write(`listening ${port}\n`);
  });
}

main();
