/**
 * The packaging files agree with the package and with each other: LICENSE is package.json's
 * licence, the changelog names the version, the migration guide lists every deliberate
 * difference of the README's compatibility table, the systemd unit passes `systemd-analyze
 * verify` (when installed) and runs as an unprivileged user.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, tempDir } from '../helpers/cli.js';

const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const pkg = JSON.parse(read('package.json')) as { license: string; version: string };

test('LICENSE is the MIT licence that package.json declares', () => {
  assert.equal(pkg.license, 'MIT');
  const license = read('LICENSE');
  assert.match(license, /^MIT License\n\nCopyright \(c\) \d{4} the tsbetween authors\n/);
  assert.match(license, /THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND/);
});

test('CHANGELOG.md has an entry for the package version', () => {
  assert.match(read('CHANGELOG.md'), new RegExp(`^## ${pkg.version.replaceAll('.', '\\.')}$`, 'm'));
});

/** The rows of the table under "Deliberate differences" (README) / "## Deliberate differences". */
function differenceRows(markdown: string, heading: RegExp): string[] {
  const start = markdown.search(heading);
  assert.ok(start >= 0, `no ${heading}`);
  const lines = markdown.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('| Area |'));
  const rows: string[] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.trim());
  }
  return rows;
}

test('the migration guide lists every deliberate difference of the README', () => {
  const readme = differenceRows(read('README.md'), /^Deliberate differences/m);
  const guide = differenceRows(read('docs/migrating-from-gobetween.md'), /^## Deliberate differences/m);
  assert.ok(readme.length > 20, `${readme.length} rows`);
  const missing = readme.filter((r) => !guide.includes(r));
  const extra = guide.filter((r) => !readme.includes(r));
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, 'docs/migrating-from-gobetween.md and the README table differ');
});

test('contrib/tsbetween.service: a simple service, unprivileged, restarts on failure, verified by systemd', (t) => {
  const unit = read('contrib/tsbetween.service');
  const value = (key: string): string | undefined => new RegExp(`^${key}=(.*)$`, 'm').exec(unit)?.[1];
  assert.equal(value('Type'), 'simple');
  assert.equal(value('Restart'), 'on-failure');
  assert.match(value('LimitNOFILE') ?? '', /^\d+$/);
  assert.ok(value('User') !== undefined && value('User') !== 'root', 'runs as an unprivileged user');
  assert.match(value('ExecStart') ?? '', /tsbetween -c \S+/);
  let hasSystemd = true;
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
  } catch {
    hasSystemd = false;
  }
  if (!hasSystemd) {
    t.skip('systemd-analyze not installed');
    return;
  }
  // Verify against the built program (the unit names the installed path).
  const dir = tempDir('tsb-unit-');
  try {
    const file = dir.write('tsbetween.service', unit.replace(/^ExecStart=\S+/m, `ExecStart=${join(ROOT, 'dist', 'app', 'cli.js')}`));
    const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'no warnings');
  } finally {
    dir.remove();
  }
});
