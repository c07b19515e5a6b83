import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BodyTooLargeError, INTERNAL_ERROR_MESSAGE, UnknownFormatError, errorReply } from '../../src/api/errors.js';
import { ConfigError, DecodeError, NotSupportedError, StartError } from '../../src/core/errors.js';

test('the error table: statuses and client-visible messages', () => {
  const listenErr = Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:1'), {
    code: 'EADDRINUSE',
    syscall: 'listen',
  });
  const rows: Array<[unknown, number, string, boolean]> = [
    [new DecodeError('', 'EOF'), 400, 'EOF', false],
    [new DecodeError('max_connections', 'expected an integer, got string'), 400, 'max_connections: expected an integer, got string', false],
    [new ConfigError('servers.x', 'Server with this name already exists: x'), 409, 'Server with this name already exists: x', false],
    [new NotSupportedError('servers.x.protocol', 'udp protocol'), 409, 'not supported yet: udp protocol', false],
    [new StartError('listen tcp :1: bind: permission denied'), 409, 'listen tcp :1: bind: permission denied', false],
    [listenErr, 409, listenErr.message, false],
    [new UnknownFormatError('xml'), 500, 'Unknown format xml', false],
    [new BodyTooLargeError(10), 413, 'Request body too large (limit 10 bytes)', false],
    [new TypeError("Cannot read properties of undefined (reading 'x')"), 500, INTERNAL_ERROR_MESSAGE, true],
    [undefined, 500, INTERNAL_ERROR_MESSAGE, true],
  ];
  for (const [err, status, message, unexpected] of rows) {
    assert.deepEqual(errorReply(err), { status, message, unexpected }, String(err));
  }
});
