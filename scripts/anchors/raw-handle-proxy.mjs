// MEASUREMENT PROTOTYPE — not part of tsbetween, not used by it, not tested. It answers one
// question for issue 8 item 4: what does a proxied connection cost when no net.Socket is built for
// it? A round-robin TCP proxy for two backends on Node's internal libuv handles (tcp_wrap,
// stream_wrap through process.binding): raw accept, raw connect, onread into a per-connection
// buffer, WriteWrap writes (reading stops while a write is queued), ShutdownWrap for half-close,
// close() once both directions ended.
//
//   node scripts/anchors/raw-handle-proxy.mjs <listen-port> <backend-port-1> <backend-port-2>
//
// Measured beside tsbetween and a bare net.Socket proxy (wrk -t1 -c32 `Connection: close` to two
// node:http backends, CPU of the proxy process per connection): see the percon report in issue 8.
import net from 'node:net';
const [lp, b1, b2] = process.argv.slice(2).map(Number);
const { TCP, TCPConnectWrap, constants } = process.binding('tcp_wrap');
const { WriteWrap, ShutdownWrap, streamBaseState, kReadBytesOrError, kLastWriteWasAsync } = process.binding('stream_wrap');
const UV_EOF = -4095;
const backends = [b1, b2];
let rr = 0;
const pool = [];
const take = () => pool.pop() ?? Buffer.allocUnsafeSlow(16384);
function closeH(p, h) { if (h === p.c) { if (p.cClosed) return; p.cClosed = true; } else { if (p.bClosed) return; p.bClosed = true; } h.close(); if (p.cClosed && p.bClosed) { pool.push(p.cbuf, p.bbuf); } }
function destroy(p) { closeH(p, p.c); closeH(p, p.b); }
function afterWrite(status) { const p = this.p; if (status < 0) { destroy(p); return; } const src = this.src; if (!(src === p.c ? p.cClosed : p.bClosed)) src.readStart(); }
function write(p, dst, src, buf, n) {
  const req = new WriteWrap(); req.handle = dst; req.oncomplete = afterWrite; req.async = false; req.p = p; req.src = src;
  const err = dst.writeBuffer(req, buf.subarray(0, n));
  if (err) { destroy(p); return; }
  if (streamBaseState[kLastWriteWasAsync]) src.readStop(); // buffer still referenced: wait
}
function afterShutdown(status) { const p = this.p; const h = this.handle; if (status < 0) { destroy(p); return; } if (h === p.c ? p.cEof : p.bEof) closeH(p, h); }
function fin(p, h) {
  // h's peer gets our FIN; h itself has read EOF?
  const eof = h === p.c ? p.cEof : p.bEof;
  if (eof && h.writeQueueSize === 0) { closeH(p, h); return; }
  const req = new ShutdownWrap(); req.oncomplete = afterShutdown; req.handle = h; req.p = p;
  if (h.shutdown(req)) destroy(p);
}
function onClientRead() {
  const n = streamBaseState[kReadBytesOrError]; const p = this.p;
  if (n > 0) { write(p, p.b, p.c, p.cbuf, n); return; }
  if (n === 0) return;
  if (n !== UV_EOF) { destroy(p); return; }
  p.cEof = true; p.c.readStop();
  fin(p, p.b);
  if (p.bEof && p.cFin) closeH(p, p.c);
}
function onBackendRead() {
  const n = streamBaseState[kReadBytesOrError]; const p = this.p;
  if (n > 0) { write(p, p.c, p.b, p.bbuf, n); return; }
  if (n === 0) return;
  if (n !== UV_EOF) { destroy(p); return; }
  p.bEof = true; p.b.readStop();
  p.cFin = true; fin(p, p.c);
  if (p.cEof) closeH(p, p.b);
}
function afterConnect(status, bh, req) {
  const p = req.p;
  if (status < 0) { destroy(p); return; }
  bh.setNoDelay(true); bh.setKeepAlive(true, 15);
  p.c.useUserBuffer(p.cbuf); p.c.onread = onClientRead; p.c.readStart();
  bh.useUserBuffer(p.bbuf); bh.onread = onBackendRead; bh.readStart();
}
const srv = net.createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: 15000 });
srv.listen(lp, '127.0.0.1', () => {
  const lh = srv._handle; lh.setNoDelay(true); lh.setKeepAlive(true, 15);
  lh.onconnection = (status, ch) => {
    if (status !== 0) return;
    const bh = new TCP(constants.SOCKET);
    const p = { c: ch, b: bh, cbuf: take(), bbuf: take(), cEof: false, bEof: false, cFin: false, cClosed: false, bClosed: false };
    ch.p = p; bh.p = p;
    const req = new TCPConnectWrap(); req.oncomplete = afterConnect; req.p = p;
    const port = backends[rr++ & 1];
    req.address = '127.0.0.1'; req.port = port;
    if (bh.connect(req, '127.0.0.1', port)) destroy(p);
  };
});
