/**
 * Issue 12, items 3 and 12: untrusted discovery output reaches the log escaped, capped and
 * aggregated per fetch; a steady source logs its result at info only when the set changes.
 */
import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { test } from 'node:test';
import { type BackendSpec, backendSpec } from '../../src/core/backend.js';
import { execKind } from '../../src/discovery/exec.js';
import { DiscoveryRunner } from '../../src/discovery/runner.js';
import type { DiscoveryKind } from '../../src/discovery/types.js';
import { tempDir } from '../helpers/cli.js';
import { captureLog, LEVEL } from '../helpers/log.js';
import { waitFor } from '../helpers/wait.js';
import { discoveryWire } from '../discovery/helpers.js';

test('exec output with 200 hostile lines gives one warning, escaped and capped', async () => {
  const dir = tempDir('tsb-disc-');
  try {
    // 200 lines with escape bytes, one of them huge, and one good backend line
    const script = dir.write('hostile.sh', [
      '#!/bin/sh',
      'i=0',
      'while [ $i -lt 199 ]; do printf "\\033[31mbad\\007line %s\\n" $i; i=$((i+1)); done',
      `head -c 100000 /dev/zero | tr '\\0' 'x'; echo`,
      'echo 127.0.0.1:8080',
    ].join('\n'));
    chmodSync(script, 0o755);
    const settings = execKind.parse(discoveryWire('exec', { exec: { exec_command: [script] } }), 'servers.x.discovery');
    const cap = captureLog();
    const specs = await execKind.fetch(settings, { signal: AbortSignal.timeout(10_000), log: cap.log, serverName: 'x' });
    assert.deepEqual(specs.map((s) => `${s.host}:${s.port}`), ['127.0.0.1:8080']);
    const warns = cap.records.filter((r) => r.level === LEVEL.warn);
    assert.equal(warns.length, 1, warns.map((w) => w.msg).join('\n'));
    const msg = warns[0]?.msg ?? '';
    assert.match(msg, /^200 lines skipped, first: Cant parse \\x1b\[31mbad\\x07line 0$/);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(msg, /[\u0000-\u001f]/);
  } finally {
    dir.remove();
  }
});

test('a single bad static line keeps GoBetween\'s text; a huge one is capped', async () => {
  const { staticKind } = await import('../../src/discovery/static.js');
  const settings = staticKind.parse(discoveryWire('static', { static: { static_list: [`y${'z'.repeat(10_000)}`] } }), 'p');
  const cap = captureLog();
  await staticKind.fetch(settings, { signal: new AbortController().signal, log: cap.log, serverName: 'x' });
  const warns = cap.messages(LEVEL.warn);
  assert.equal(warns.length, 1);
  assert.match(warns[0] ?? '', /^Cant parse yzzz/);
  assert.ok((warns[0] ?? '').length < 400);
});

test('a steady source logs its result at info once; a change logs again', async () => {
  const sets: BackendSpec[][] = [
    [backendSpec('127.0.0.1', '1')],
    [backendSpec('127.0.0.1', '1')],
    [backendSpec('127.0.0.1', '1')],
    [backendSpec('127.0.0.1', '2')],
    [backendSpec('127.0.0.1', '2')],
  ];
  let n = 0;
  const kind: DiscoveryKind<null> = {
    kind: 'srv',
    defaultTimeoutMs: 1000,
    retryWaitMs: 10,
    parse: () => null,
    fetch: () => Promise.resolve(sets[Math.min(n++, sets.length - 1)] ?? []),
  };
  const cap = captureLog();
  const results: BackendSpec[][] = [];
  const r = new DiscoveryRunner({
    serverName: 'web', kind, settings: null, intervalMs: 5, timeoutMs: 0, failpolicy: 'keeplast',
    onResult: (s) => results.push(s), log: cap.log,
  });
  r.start();
  try {
    await waitFor(() => results.length >= 5, 10_000);
  } finally {
    r.stop();
  }
  const fetched = cap.records.filter((rec) => rec.msg.startsWith('srv fetched'));
  const info = fetched.filter((rec) => rec.level === LEVEL.info).map((rec) => rec.msg);
  assert.deepEqual(info, ['srv fetched 1 backend(s)', 'srv fetched 1 backend(s)']);
  assert.ok(fetched.filter((rec) => rec.level === LEVEL.debug).length >= 3);
});
