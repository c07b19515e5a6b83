/**
 * The part of RawSocket (./raw-socket.ts) that is not the byte flow: the handle, the destroyed
 * flag, and the addresses as net.Socket reports them, read from the handle once when first asked.
 */
import { EventEmitter } from 'node:events';
import { handleName, type AddressOut, type TcpHandle } from './raw-handle.js';

export abstract class RawBase extends EventEmitter {
  destroyed = false;
  private peer: Partial<AddressOut> | undefined = undefined;
  private local: Partial<AddressOut> | undefined = undefined;

  protected constructor(protected readonly h: TcpHandle) {
    super();
  }

  /** The peer's address as net.Socket reports it (undefined once it cannot be read). */
  get remoteAddress(): string | undefined {
    return this.name(true)?.address;
  }

  get remotePort(): number | undefined {
    return this.name(true)?.port;
  }

  get localAddress(): string | undefined {
    return this.name(false)?.address;
  }

  get localPort(): number | undefined {
    return this.name(false)?.port;
  }

  private name(peer: boolean): Partial<AddressOut> | undefined {
    const known = peer ? this.peer : this.local;
    if (known !== undefined || this.destroyed) return known;
    const out = handleName(this.h, peer);
    if (peer) this.peer = out;
    else this.local = out;
    return out;
  }
}
