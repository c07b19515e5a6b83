/** Free ports for tests that must know a bind port before the server opens it (see test/helpers/net.ts). */
export { freePort } from '../helpers/net.js';
