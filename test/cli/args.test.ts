import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { MAX_WORKERS, UsageError, argvFromEnv, parseArgs, parseWorkers } from '../../src/args.js';
import { VERSION } from '../../src/version.js';

test('version constant equals package.json', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(VERSION, pkg.version);
});

test('root -c and from-file select a file source; -f/-p/-e are persistent flags', () => {
  const a = parseArgs(['-c', 'x.toml']);
  assert.deepEqual(a.command, { kind: 'run', source: { kind: 'file', path: 'x.toml' }, consulScheme: 'http' });
  assert.equal(a.format, 'toml');
  const b = parseArgs(['from-file', '/etc/gobetween/config.json', '-f', 'json', '-p', '/run/g.pid', '-e']);
  assert.deepEqual(b.command, { kind: 'run', source: { kind: 'file', path: '/etc/gobetween/config.json' }, consulScheme: 'http' });
  assert.equal(b.format, 'json');
  assert.equal(b.pidfile, '/run/g.pid');
  assert.equal(b.useEnvVars, true);
  const c = parseArgs(['--format=json', 'from-file', 'y']);
  assert.equal(c.format, 'json');
  assert.equal(parseArgs(['--config=z.toml']).command.kind, 'run');
  assert.equal(parseArgs(['-cz.toml']).command.kind, 'run');
});

test('from-url and from-consul', () => {
  assert.deepEqual(parseArgs(['from-url', 'http://h/cfg.toml']).command, {
    kind: 'run', source: { kind: 'url', url: 'http://h/cfg.toml' }, consulScheme: 'http',
  });
  assert.deepEqual(parseArgs(['from-consul', 'localhost:8500', '--key=gb', '--scheme', 'https', '-f', 'json']).command, {
    kind: 'run', source: { kind: 'consul', host: 'localhost:8500', key: 'gb' }, consulScheme: 'https',
  });
  assert.deepEqual(parseArgs(['from-consul', 'c:8500']).command, {
    kind: 'run', source: { kind: 'consul', host: 'c:8500', key: 'gobetween' }, consulScheme: 'http',
  });
});

test('help and version', () => {
  assert.equal(parseArgs([]).command.kind, 'help');
  assert.equal(parseArgs(['-h']).command.kind, 'help');
  assert.equal(parseArgs(['help']).command.kind, 'help');
  assert.equal(parseArgs(['-v']).command.kind, 'version');
  assert.equal(parseArgs(['--version', '-c', 'x']).command.kind, 'version');
});

test('usage errors name the flag or argument', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--nope'], /unknown flag: --nope/],
    [['-c'], /flag needs an argument: -c/],
    [['-f', 'yaml', '-c', 'x'], /Unknown format yaml/],
    [['from-file'], /from-file needs exactly one argument, got 0/],
    [['from-file', 'a', 'b'], /got 2/],
    [['from-file', 'a', '-c', 'b'], /-c\/--config is not valid with from-file/],
    [['bogus'], /unknown command "bogus"/],
    [['-k', 'x', '-c', 'y'], /only valid with from-consul/],
    [['from-consul', 'h:1', '-s', 'ftp'], /--scheme must be http or https/],
    [['--shutdown-grace', '5', '-c', 'x'], /--shutdown-grace: invalid duration "5"/],
  ];
  for (const [argv, re] of cases) {
    assert.throws(() => parseArgs(argv), (e: unknown) => e instanceof UsageError && re.test(e.message), argv.join(' '));
  }
});

test('--shutdown-grace takes a Go duration', () => {
  assert.equal(parseArgs(['--shutdown-grace', '1m30s', '-c', 'x']).shutdownGraceMs, 90_000);
  assert.equal(parseArgs(['-c', 'x']).shutdownGraceMs, 10_000);
});

test('GOBETWEEN env var replaces argv; both together is an error', () => {
  assert.deepEqual(argvFromEnv([], '["from-url","http://x/cfg.toml","-f","toml"]'), ['from-url', 'http://x/cfg.toml', '-f', 'toml']);
  assert.deepEqual(argvFromEnv(['-c', 'a'], undefined), ['-c', 'a']);
  assert.deepEqual(argvFromEnv(['-c', 'a'], ''), ['-c', 'a']);
  assert.throws(() => argvFromEnv(['-c', 'a'], '["-v"]'), /Passed GOBETWEEN env var and command-line arguments: only one allowed/);
  assert.throws(() => argvFromEnv([], 'nope'), /Error converting env var to parameters/);
  assert.throws(() => argvFromEnv([], '[1,2]'), /Error converting env var to parameters/);
});

test('--workers and TSBETWEEN_WORKERS: a count or auto, the flag wins, auto by default', () => {
  assert.equal(parseArgs(['-c', 'x']).workers, 'auto');
  assert.equal(parseArgs(['-c', 'x', '--workers', '2']).workers, 2);
  assert.equal(parseArgs(['--workers=auto', 'from-file', 'x']).workers, 'auto');
  assert.equal(parseArgs(['from-url', 'http://h/c', '--workers', '1']).workers, 1);
  assert.equal(parseArgs(['-c', 'x'], { TSBETWEEN_WORKERS: '3' }).workers, 3);
  assert.equal(parseArgs(['-c', 'x'], { TSBETWEEN_WORKERS: ' auto ' }).workers, 'auto');
  assert.equal(parseArgs(['-c', 'x'], { TSBETWEEN_WORKERS: '' }).workers, 'auto');
  assert.equal(parseArgs(['-c', 'x', '--workers', '1'], { TSBETWEEN_WORKERS: '4' }).workers, 1);
  // A bad environment value is not looked at when the flag decides.
  assert.equal(parseArgs(['-c', 'x', '--workers', '2'], { TSBETWEEN_WORKERS: 'many' }).workers, 2);
  assert.equal(parseWorkers(String(MAX_WORKERS), 'w'), MAX_WORKERS);
});

test('--workers and TSBETWEEN_WORKERS: bad values are usage errors naming the source', () => {
  for (const bad of ['0', '-1', 'two', '1.5', '', String(MAX_WORKERS + 1), '0x2']) {
    assert.throws(() => parseArgs(['-c', 'x', `--workers=${bad}`]),
      (e: unknown) => e instanceof UsageError && e.message.startsWith('--workers: expected a number of workers'), bad);
  }
  assert.throws(() => parseArgs(['-c', 'x'], { TSBETWEEN_WORKERS: 'lots' }),
    (e: unknown) => e instanceof UsageError && /^TSBETWEEN_WORKERS: .*got "lots"/.test(e.message));
  assert.throws(() => parseArgs(['-c', 'x', '--workers']), /flag needs an argument: --workers/);
});
