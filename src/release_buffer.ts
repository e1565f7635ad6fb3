/**
 * Frees the memory of a byte array the caller is done with, now rather than at V8's next
 * full collection.
 *
 * Why: the bytes of an `ArrayBuffer` live outside V8's heap, and V8 collects a dead one only
 * when its heap asks for a collection or when such memory has grown by some tens of MB since
 * the last. A relay that makes a buffer per pack of datagrams, per batch and per record so
 * carries tens of MB of dead buffers. Measured with 2,000 buffers of 256 KiB, each dropped at
 * once, under the binary's V8 flags: peak RSS 111 MB (56 MB of them dead buffers), 40 MB
 * when each is released this way.
 *
 * How: `ArrayBuffer.prototype.transfer(0)` detaches the buffer, which lets go of its bytes at
 * once. Every view of the buffer is then empty: call this only where nothing else holds one.
 * A view that does not cover its whole buffer (a `Buffer` from `node:buffer`'s shared pool,
 * a slice) is left alone, since other views may share the buffer.
 *
 * @module
 */

/** Releases `bytes`' buffer if `bytes` is the whole of it and nothing else may use it. */
export function releaseBuffer(bytes: ArrayBufferView | ArrayBuffer): void {
  const buffer = bytes instanceof ArrayBuffer ? bytes : bytes.buffer;
  if (!(buffer instanceof ArrayBuffer) || buffer.detached || buffer.byteLength === 0) return;
  if (!(bytes instanceof ArrayBuffer) && (bytes.byteOffset !== 0 || bytes.byteLength !== buffer.byteLength)) return;
  buffer.transfer(0);
}
