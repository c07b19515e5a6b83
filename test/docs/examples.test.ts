/**
 * The shell examples of the README and the migration guide work as written: every fenced `sh`
 * block preceded by a `<!-- test -->` line is run with bash (-euo pipefail) against a started
 * tsbetween serving config.example.toml, with the well-known ports (8888, 9284, 3000, 3001, 6060)
 * remapped to free ones in both the config and the block. `curl` fails on HTTP errors here
 * (--fail-with-body), so a 4xx/5xx answer fails the example too.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { req } from '../api/http.js';
import { freePort } from '../api/ports.js';
import { ROOT, runCli, tempDir, type CliRun } from '../helpers/cli.js';

const PAGES = ['README.md', 'docs/migrating-from-gobetween.md'];
const WELL_KNOWN = [8888, 9284, 3000, 3001, 6060];

/** `<!-- test -->`, then (after blank lines) a ```sh fence, possibly indented (list items). */
export function testedBlocks(markdown: string): Array<{ line: number; code: string }> {
  const lines = markdown.split('\n');
  const out: Array<{ line: number; code: string }> = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]?.trim() !== '<!-- test -->') continue;
    let j = i + 1;
    while (j < lines.length && lines[j]?.trim() === '') j++;
    const fence = /^(\s*)```sh\s*$/.exec(lines[j] ?? '');
    if (fence === null) throw new Error(`line ${i + 1}: <!-- test --> is not followed by a \`\`\`sh block`);
    const indent = fence[1]?.length ?? 0;
    const body: string[] = [];
    let k = j + 1;
    for (; k < lines.length && lines[k]?.trim() !== '```'; k++) body.push((lines[k] ?? '').slice(indent));
    if (k === lines.length) throw new Error(`line ${j + 1}: unterminated block`);
    out.push({ line: j + 1, code: body.join('\n') });
    i = k;
  }
  return out;
}

function hasCurl(): boolean {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('documentation examples', { skip: hasCurl() ? false : 'curl not installed' }, () => {
  const ports = new Map<number, number>();
  const dir = tempDir('tsb-examples-');
  let cli: CliRun | undefined;

  const remap = (text: string): string =>
    text.replace(/:(8888|9284|3000|3001|6060)\b/g, (_, p: string) => `:${ports.get(Number(p)) ?? p}`);

  before(async () => {
    for (const p of WELL_KNOWN) ports.set(p, await freePort('127.0.0.1'));
    const config = dir.write('config.toml', remap(readFileSync(join(ROOT, 'config.example.toml'), 'utf8')));
    cli = runCli(['-c', config]);
    const api = ports.get(8888) ?? 0;
    const end = Date.now() + 20_000;
    for (;;) {
      const ok = await req(api, '/', { timeoutMs: 500 }).then((r) => r.status === 200 && r.body.includes(config), () => false);
      if (ok) break;
      if (cli.child.exitCode !== null || Date.now() > end) throw new Error(`tsbetween did not start: ${cli.stderr()} ${cli.stdout()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    if (cli !== undefined) {
      cli.kill('SIGTERM');
      assert.equal(await cli.exited, 0);
    }
    dir.remove();
  });

  it('the pages have tested examples', () => {
    assert.ok(testedBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8')).length >= 3);
    assert.ok(testedBlocks(readFileSync(join(ROOT, 'docs/migrating-from-gobetween.md'), 'utf8')).length >= 1);
    assert.throws(() => testedBlocks('<!-- test -->\n```toml\nx\n```\n'), /not followed/);
    assert.deepEqual(testedBlocks('<!-- test -->\n\n   ```sh\n   a\n     b\n   ```\n'), [{ line: 3, code: 'a\n  b' }]);
  });

  for (const page of PAGES) {
    for (const block of testedBlocks(readFileSync(join(ROOT, page), 'utf8'))) {
      it(`${page}:${block.line} runs`, async () => {
        const script = `curl() { command curl --fail-with-body --max-time 10 "$@"; }\n${remap(block.code)}\n`;
        const child = spawn('bash', ['-euo', 'pipefail', '-c', script], {
          cwd: ROOT,
          env: { ...process.env, GOBETWEEN: '', PATH: `${join(ROOT, 'node_modules', '.bin')}${delimiter}${process.env['PATH'] ?? ''}` },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
        child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
        const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
        const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
        clearTimeout(timer);
        assert.equal(code, 0, `block at ${page}:${block.line} failed:\n${remap(block.code)}\n--- output ---\n${out}`);
        assert.notEqual(out.trim(), '', 'the example printed something');
      });
    }
  }
});
