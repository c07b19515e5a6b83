/**
 * src/core/log.ts: the logger that replaced pino (issue 8 item 8) writes pino's records — the
 * worker threads' lines are compared with what pino itself writes for the same calls — and
 * GoBetween's text and JSON formats; a failed destination stops logging without a loop.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { createLineLogger, createLogger, formatTextLine, silentLogger, streamLogger, type Logger } from '../../src/core/log.js';
import { tempDir } from '../helpers/cli.js';

/** The same calls on any Logger. */
function exercise(log: Logger): void {
  const c = log.child({ name: 'manager' });
  c.info('Initializing...');
  c.debug('hidden at info');
  c.warn({ server: 'web', n: 3 }, 'three');
  const err = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  c.error({ err }, 'failed');
  c.child({ name: 'inner', extra: true }).error(err);
  log.info({ only: 'fields' });
}

/** Drops the parts that differ between two runs (time, stack traces). */
function stable(line: string): Record<string, unknown> {
  const rec = JSON.parse(line) as Record<string, unknown>;
  delete rec['time'];
  const err = rec['err'] as Record<string, unknown> | undefined;
  if (err !== undefined) {
    assert.equal(typeof err['stack'], 'string');
    delete err['stack'];
  }
  return rec;
}

describe('logger', () => {
  it("worker lines are pino's records (same keys, order, levels, error serialisation)", () => {
    const ours: string[] = [];
    exercise(createLineLogger('info', (l) => ours.push(l)));
    const theirs: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString('utf8').split('\n')) if (l !== '') theirs.push(l);
        cb();
      },
    });
    exercise(pino({ level: 'info', base: null }, sink));
    assert.equal(ours.length, 5);
    assert.deepEqual(ours.map(stable), theirs.map(stable));
    // Key order too (the text format appends fields in it).
    assert.deepEqual(ours.map((l) => Object.keys(stable(l))), theirs.map((l) => Object.keys(stable(l))));
    assert.equal(typeof (JSON.parse(ours[0] ?? '{}') as { time: unknown }).time, 'number');
  });

  it('levels: isLevelEnabled, child inherits, silent logs nothing', () => {
    const lines: string[] = [];
    const log = createLineLogger('warn', (l) => lines.push(l));
    assert.equal(log.level, 'warn');
    assert.equal(log.isLevelEnabled('info'), false);
    assert.equal(log.isLevelEnabled('error'), true);
    assert.equal(log.isLevelEnabled('nonsense'), false);
    const c = log.child({ name: 'x' });
    assert.equal(c.isLevelEnabled('warn'), true);
    c.info('no');
    c.warn('yes');
    assert.equal(lines.length, 1);
    assert.equal(silentLogger.isLevelEnabled('fatal'), false);
    silentLogger.fatal('nothing');
  });

  it('a cyclic or bigint field is written, not thrown', () => {
    const lines: string[] = [];
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = cyclic;
    createLineLogger('info', (l) => lines.push(l)).info({ cyclic, big: 10n }, 'odd');
    const rec = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    assert.deepEqual(rec['cyclic'], { a: 1, self: '[Circular]' });
    assert.equal(rec['big'], '10');
  });

  it("text and JSON formats (GoBetween's), to a file", async () => {
    const dir = tempDir('tsb-log-');
    try {
      const text = await createLogger({ level: 'debug', output: dir.path + '/t.log', format: 'text' });
      text.root.child({ name: 'healthcheck' }).debug({ server: 'web' }, 'line\nbreak');
      text.root.warn('no name');
      await text.close();
      const t = readFileSync(dir.path + '/t.log', 'utf8').split('\n');
      assert.match(t[0] ?? '', /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[DEBUG\] \(healthcheck\): line\\nbreak server=web$/);
      assert.match(t[1] ?? '', /\[WARNI\] \(default\): no name$/);

      const json = await createLogger({ level: 'info', output: dir.path + '/j.log', format: 'json' });
      json.root.child({ name: 'api' }).warn({ code: 7 }, 'w');
      await json.close();
      const rec = JSON.parse(readFileSync(dir.path + '/j.log', 'utf8')) as Record<string, unknown>;
      assert.deepEqual(Object.keys(rec), ['level', 'time', 'name', 'code', 'msg']);
      assert.equal(rec['level'], 'warning');
      assert.match(String(rec['time']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(formatTextLine('not json'), 'not json');
      await assert.rejects(createLogger({ level: 'loud', output: '', format: 'text' }), /Unknown loglevel loud/);
    } finally {
      dir.remove();
    }
  });

  it('a destination that failed is written no more (no error loop)', async () => {
    let writes = 0;
    const dest = new Writable({
      write(_c, _e, cb) {
        writes++;
        cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    const log = streamLogger('info', 'text', dest);
    log.info('first');
    await new Promise((r) => setImmediate(r));
    assert.equal(writes, 1);
    // What cli.ts's uncaughtException handler would do next: log again. Nothing is written.
    log.error('second');
    log.error('third');
    await new Promise((r) => setImmediate(r));
    assert.equal(writes, 1);
  });
});
