/** The OpenSVC janitor's equality rule (opensvc.md §1.5) and its API call, shared by the janitor replays. */
import assert from 'node:assert/strict';
import { req, type Reply } from '../api/http.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Python `==` on decoded JSON, as the janitor compares (dict key sets must match exactly). */
export function pyEqual(x: Json, y: Json): boolean {
  if (x === null || y === null || typeof x !== 'object' || typeof y !== 'object') return x === y;
  if (Array.isArray(x) || Array.isArray(y)) {
    return Array.isArray(x) && Array.isArray(y) && x.length === y.length && x.every((v, i) => pyEqual(v, y[i] ?? null) && i in y);
  }
  const kx = Object.keys(x).sort();
  const ky = Object.keys(y).sort();
  return kx.length === ky.length && kx.every((k, i) => k === ky[i] && pyEqual(x[k] ?? null, y[k] ?? null));
}

/** The janitor's rule: every desired top-level key present and Python-equal. */
export function janitorEqual(desired: Record<string, Json>, current: Record<string, Json>): boolean {
  return Object.entries(desired).every(([k, v]) => k in current && pyEqual(v, current[k] ?? null));
}

/** One janitor call to the API on `apiPort`: python-requests, new connection, 1 s timeout; must be 200. */
export async function janitorCall(apiPort: number, method: string, path: string, body?: Json): Promise<Reply> {
  const t0 = Date.now();
  const r = await req(apiPort, path, body === undefined
    ? { method, timeoutMs: 1000 }
    : { method, timeoutMs: 1000, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  assert.ok(Date.now() - t0 < 1000, `${method} ${path} took ${Date.now() - t0} ms`);
  assert.equal(r.status, 200, `${method} ${path}: ${r.body}`);
  return r;
}
