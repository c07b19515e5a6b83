/**
 * GoBetween's sample config (our copy in test/fixtures/gobetween-sample.toml, written from the
 * spec) starts unchanged and its `udpsample` server answers DNS. The sample binds fixed ports
 * (:8888, 0.0.0.0:3000, localhost:4000) and balances to three documentation addresses
 * (192.0.2.53, 198.51.100.53, 203.0.113.53 — GoBetween's original names public resolvers), so the
 * whole run happens inside a fresh network namespace (`unshare -n`, root only): those addresses
 * are put on its loopback and served by one dnsmasq, and nothing leaves or touches the host.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { DNSMASQ } from '../../discovery/dnsmasq.js';

const SAMPLE = 'test/fixtures/gobetween-sample.toml';

function skipReason(): string | undefined {
  if (!existsSync(SAMPLE)) return `${SAMPLE} is missing`;
  if (DNSMASQ === undefined) return 'dnsmasq not installed';
  if (spawnSync('which', ['dig']).status !== 0) return 'dig not installed (Debian bind9-dnsutils)';
  const probe = spawnSync('unshare', ['-n', 'true']);
  if (probe.status !== 0) return 'cannot create a network namespace (unshare -n needs root)';
  return undefined;
}

// Runs inside the namespace: addresses, dnsmasq, tsbetween on the unchanged sample, then three
// queries (each dig uses a new source port, so a new session) through udpsample.
const SCRIPT = `
set -u
ip link set lo up
for a in 192.0.2.53 198.51.100.53 203.0.113.53; do ip addr add $a/32 dev lo; done
"$DNSMASQ" --no-daemon --log-facility=- --port=53 --listen-address=192.0.2.53,198.51.100.53,203.0.113.53 \\
  --bind-interfaces --no-resolv --no-hosts --conf-file=/dev/null --pid-file= --user=root \\
  --address=/sample.test/10.1.2.3 2>/dev/null &
DNS=$!
"$NODE" --import tsx src/cli.ts -c "$SAMPLE" >"$LOG" 2>&1 &
TSB=$!
trap 'kill $TSB $DNS 2>/dev/null; wait' EXIT
ok=0
for i in $(seq 1 100); do
  a=$(dig +short +time=1 +tries=1 @127.0.0.1 -p 4000 sample.test A 2>/dev/null)
  if [ "$a" = "10.1.2.3" ]; then ok=$((ok+1)); echo "ANSWER $a"; [ $ok -ge 3 ] && break; else sleep 0.2; fi
done
curl -s http://127.0.0.1:8888/servers/udpsample/stats | tr -d ' \\n'; echo
kill -0 $TSB && echo "RUNNING"
`;

test('GoBetween sample TOML starts unchanged and its udpsample server answers DNS', { timeout: 90_000 }, async (t) => {
  const why = skipReason();
  if (why !== undefined) {
    t.skip(why);
    return;
  }
  const log = `/tmp/tsb-sample-${process.pid}.log`;
  const child = spawn('unshare', ['-n', 'bash', '-c', SCRIPT], {
    env: { ...process.env, DNSMASQ, NODE: process.execPath, SAMPLE, LOG: log },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const answers = out.split('\n').filter((l) => l.startsWith('ANSWER 10.1.2.3'));
  assert.equal(answers.length, 3, `three answers through udpsample; output:\n${out}`);
  assert.match(out, /RUNNING/, 'tsbetween still running with the whole sample');
  const statsLine = out.split('\n').find((l) => l.startsWith('{"active_connections"'));
  assert.ok(statsLine !== undefined, `stats from the REST API; output:\n${out}`);
  const stats = JSON.parse(statsLine) as { active_connections: number; backends: { stats: { total_connections: number } }[] };
  assert.equal(stats.active_connections, 0, 'max_responses = 1: every session ended with its answer');
  assert.equal(stats.backends.reduce((n, b) => n + b.stats.total_connections, 0), 3, 'three sessions');
  assert.equal(code, 0);
});
