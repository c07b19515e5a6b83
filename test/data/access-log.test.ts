/** The access log writer (tsbetween-only): formats, rate cap, file output, a stalled output. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { AccessLog, jsonLine, textLine, type AccessRecord } from '../../src/data/access-log.js';
import { silentLogger } from '../../src/core/log.js';

const rec = (over: Partial<AccessRecord> = {}): AccessRecord => ({
  start: Date.UTC(2026, 0, 2, 3, 4, 5, 6),
  server: 'web',
  client: '127.0.0.1:50000',
  backend: '127.0.0.1:8000',
  rx: 100,
  tx: 20,
  durationMs: 7,
  end: 'client_close',
  retries: 0,
  ...over,
});

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { stream, text: () => chunks.join('') };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('json and text lines: every field, untrusted text escaped', () => {
  assert.deepEqual(JSON.parse(jsonLine(rec({ server: 'a"b\n' }))), {
    time: '2026-01-02T03:04:05.006Z', server: 'a"b\n', client: '127.0.0.1:50000', backend: '127.0.0.1:8000',
    rx: 100, tx: 20, duration_ms: 7, end: 'client_close', retries: 0,
  });
  assert.equal(textLine(rec()), '2026-01-02T03:04:05.006Z web 127.0.0.1:50000 -> 127.0.0.1:8000 rx=100 tx=20 duration=7ms end=client_close retries=0\n');
  assert.equal(textLine(rec({ server: 'my web\n', backend: '', end: 'no_backend' })),
    '2026-01-02T03:04:05.006Z "my web\\n" 127.0.0.1:50000 -> - rx=100 tx=20 duration=7ms end=no_backend retries=0\n');
});

test('rate cap: lines over rate_limit per second are dropped and reported once', async () => {
  let now = 10_000;
  const out = sink();
  const log = new AccessLog({ output: 'x', format: 'json', rateLimit: 3, log: silentLogger, now: () => now, stream: out.stream });
  for (let i = 0; i < 10; i++) log.record(rec({ rx: i }));
  await tick();
  let lines = out.text().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(lines.map((l) => l['rx']), [0, 1, 2]);
  now += 1000;
  log.record(rec({ rx: 99 }));
  await tick();
  lines = out.text().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 5);
  assert.deepEqual([lines[3]?.['dropped'], lines[3]?.['rate_limit']], [7, 3]);
  assert.equal(lines[4]?.['rx'], 99);
  assert.equal(log.droppedTotal, 7);
  await log.close();
});

test('no cap with rate_limit 0; batched into one write per turn', async () => {
  let writes = 0;
  const stream = new Writable({
    write(_c, _e, cb) {
      writes++;
      cb();
    },
  });
  const log = new AccessLog({ output: 'x', format: 'text', rateLimit: 0, log: silentLogger, stream });
  for (let i = 0; i < 5000; i++) log.record(rec());
  await tick();
  assert.equal(log.written, 5000);
  assert.equal(writes, 1);
  await log.close();
});

test('file output is appended to; close flushes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsb-access-'));
  const file = join(dir, 'access.log');
  try {
    for (const n of [1, 2]) {
      const log = new AccessLog({ output: file, format: 'json', rateLimit: 0, log: silentLogger });
      log.record(rec({ rx: n }));
      await log.close();
    }
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { rx: number }).rx);
    assert.deepEqual(lines, [1, 2]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a stalled output does not grow memory: lines are dropped past 1 MiB pending', async () => {
  const stream = new Writable({ highWaterMark: 16, write() { /* never completes */ } });
  const log = new AccessLog({ output: 'x', format: 'json', rateLimit: 0, log: silentLogger, stream });
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 2000; i++) log.record(rec({ server: 'x'.repeat(50) }));
    await tick();
  }
  assert.ok(log.droppedTotal > 0, 'some lines dropped');
  assert.ok(stream.writableLength < 2 * 1024 * 1024, `pending ${stream.writableLength}`);
  stream.destroy();
});
