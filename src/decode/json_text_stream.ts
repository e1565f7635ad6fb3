/**
 * Splits a stream of concatenated JSON texts (`{…}{…}`, with or without whitespace between
 * them) into one string per text, without parsing them. An S3 object written by Firehose
 * from kinesyslog records is a concatenation of gzip members; decompressed, it is exactly
 * such a sequence of record objects with nothing between them.
 *
 * @module
 */

/** Longest JSON text accepted, in UTF-16 code units (a record holds at most ~1 MB compressed). */
export const MAX_JSON_TEXT_CHARS = 256 * 1_048_576;

/** Input that is not a sequence of JSON objects or arrays. */
export class JsonTextError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "JsonTextError";
  }
}

const OPEN_BRACE = 0x7b, CLOSE_BRACE = 0x7d, OPEN_BRACKET = 0x5b, CLOSE_BRACKET = 0x5d, QUOTE = 0x22, BACKSLASH = 0x5c;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * The splitting state machine: feed text with {@linkcode JsonTextSplitter.push}, which
 * returns the texts it completed; {@linkcode JsonTextSplitter.end} throws when a text is left
 * unfinished.
 *
 * @example
 * ```ts
 * const s = new JsonTextSplitter();
 * s.push('{"a":"}"}{"b"'); // ['{"a":"}"}']
 * s.push(":[1]}\n");         // ['{"b":[1]}']
 * s.end();
 * ```
 */
export class JsonTextSplitter {
  #parts: string[] = [];
  #length = 0;
  #depth = 0;
  #inString = false;
  #escaped = false;

  /** Adds text; returns the JSON texts it completed, in order. Throws {@linkcode JsonTextError} on input that is not one. */
  push(chunk: string): string[] {
    const texts: string[] = [];
    let start = this.#depth === 0 ? -1 : 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (this.#depth === 0) {
        if (isSpace(c)) continue;
        if (c !== OPEN_BRACE && c !== OPEN_BRACKET) {
          throw new JsonTextError(`expected '{' between JSON texts, found ${JSON.stringify(chunk.slice(i, i + 16))}`);
        }
        start = i;
        this.#depth = 1;
        continue;
      }
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (c === BACKSLASH) this.#escaped = true;
        else if (c === QUOTE) this.#inString = false;
        continue;
      }
      if (c === QUOTE) this.#inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) this.#depth++;
      else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && --this.#depth === 0) {
        this.#parts.push(chunk.slice(start, i + 1));
        texts.push(this.#parts.join(""));
        this.#parts = [];
        this.#length = 0;
        start = -1;
      }
    }
    if (this.#depth > 0) {
      const rest = chunk.slice(Math.max(start, 0));
      this.#length += rest.length;
      if (this.#length > MAX_JSON_TEXT_CHARS) {
        throw new JsonTextError(`a JSON text is longer than ${MAX_JSON_TEXT_CHARS} characters`);
      }
      this.#parts.push(rest);
    }
    return texts;
  }

  /** Ends the input; throws {@linkcode JsonTextError} when a text is unfinished. */
  end(): void {
    if (this.#depth > 0) throw new JsonTextError(`the input ends inside a JSON text (${this.#length} characters)`);
  }
}

/**
 * A stream of text chunks in, one string per complete JSON text out.
 *
 * @example
 * ```ts
 * const texts = await Array.fromAsync(
 *   ReadableStream.from(['{"a":1}{', '"b":2}']).pipeThrough(new JsonTextStream()),
 * ); // ['{"a":1}', '{"b":2}']
 * ```
 */
export class JsonTextStream extends TransformStream<string, string> {
  /** Creates the stream. */
  constructor() {
    const splitter = new JsonTextSplitter();
    super({
      transform(chunk, controller) {
        for (const text of splitter.push(chunk)) controller.enqueue(text);
      },
      flush() {
        splitter.end();
      },
    });
  }
}
