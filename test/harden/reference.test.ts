/**
 * The configuration reference (config/reference.ts) lists exactly the keys the decoder reads,
 * each with a type, a default and a description; kind keys come from the kinds' own schemas.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configTable, discoveryShape, healthcheckShape, serverTable, type Shape, type TableShape } from '../../src/config/decode.js';
import { configReference } from '../../src/config/reference.js';

function keysOf(table: TableShape, prefix: string, out: Set<string>): void {
  for (const [name, field] of Object.entries(table)) {
    const path = `${prefix}${name}`;
    walk(field.shape, path, out);
  }
}

function walk(shape: Shape, path: string, out: Set<string>): void {
  switch (shape.kind) {
    case 'value':
      out.add(path);
      return;
    case 'table':
      keysOf(shape.fields, `${path}.`, out);
      return;
    case 'grouped':
      keysOf(shape.common, `${path}.`, out);
      for (const g of Object.values(shape.groups)) keysOf(g, `${path}.`, out);
      return;
  }
}

test('the reference lists exactly the decoder\'s keys, each documented', () => {
  const decoded = new Set<string>();
  keysOf(configTable, '', decoded);
  decoded.delete('servers');
  keysOf(serverTable, 'servers.NAME.', decoded);
  // discovery/healthcheck are grouped: walk them explicitly too
  walk(discoveryShape, 'servers.NAME.discovery', decoded);
  walk(healthcheckShape, 'servers.NAME.healthcheck', decoded);
  const ref = configReference();
  const documented = new Set(ref.map((k) => k.path));
  assert.deepEqual([...decoded].filter((k) => !documented.has(k)).sort(), [], 'keys the decoder reads but the reference lacks');
  assert.deepEqual([...documented].filter((k) => !decoded.has(k)).sort(), [], 'keys in the reference the decoder does not read');
  for (const k of ref) {
    assert.ok(k.description.length > 3, `${k.path} has a description`);
    assert.ok(['string', 'duration', 'int', 'bool', '[]string'].includes(k.type), `${k.path} type`);
  }
  const srv = ref.find((k) => k.path === 'servers.NAME.discovery.srv_dns_protocol' && k.kind === 'srv');
  assert.deepEqual(srv && { type: srv.type, default: srv.default }, { type: 'string', default: 'udp' });
  const execHc = ref.find((k) => k.path === 'servers.NAME.healthcheck.exec_command' && k.kind === 'exec');
  assert.equal(execHc?.type, 'string');
  // JSON-serialisable as is (what a generator reads)
  assert.deepEqual(JSON.parse(JSON.stringify(ref)), ref);
});
