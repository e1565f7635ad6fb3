import type { Deflater } from "./record_builder.ts";

/**
 * A {@linkcode Deflater} that does not compress (`--record-compression none`): records are
 * the format's bytes as they are, filled to the limit by the same builder.
 */
export class PlainDeflater implements Deflater {
  readonly #parts: Uint8Array[] = [];
  #size = 0;

  /** Keeps a copy of `bytes` (the caller reuses its buffer); resolves to the size so far. */
  write(bytes: Uint8Array): Promise<number> {
    this.#parts.push(bytes.slice());
    this.#size += bytes.length;
    return Promise.resolve(this.#size);
  }

  /** Adds `bytes` and resolves to the whole record. */
  end(bytes: Uint8Array): Promise<Uint8Array> {
    const out = new Uint8Array(this.#size + bytes.length);
    let at = 0;
    for (const part of this.#parts) {
      out.set(part, at);
      at += part.length;
    }
    out.set(bytes, at);
    return Promise.resolve(out);
  }

  /** Gives up on the record. */
  discard(): void {
    this.#parts.length = 0;
    this.#size = 0;
  }
}
