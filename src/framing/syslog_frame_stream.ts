import { SyslogFramer, type SyslogFramerOptions } from "./syslog_framer.ts";

/** Options of {@linkcode SyslogFrameStream}; the same as the framer's. */
export type SyslogFrameStreamOptions = SyslogFramerOptions;

/**
 * Frames a TCP or TLS byte stream into syslog messages (see {@linkcode SyslogFramer}).
 *
 * Each output chunk is the array of frames completed by one input chunk, so the per-message
 * cost of the streams machinery is paid once per read, not once per message. Empty arrays
 * are not enqueued. The stream is pull-driven: a slow consumer slows the sender.
 *
 * @example
 * ```ts
 * const frames = conn.readable.pipeThrough(new SyslogFrameStream({ maxMessageBytes: 65536 }));
 * for await (const batch of frames) for (const frame of batch) handle(frame);
 * ```
 */
export class SyslogFrameStream extends TransformStream<Uint8Array, Uint8Array[]> {
  /** The state machine, exposed so an owner that aborts the stream can still flush it. */
  readonly framer: SyslogFramer;

  /** Creates the stream; see {@linkcode SyslogFrameStreamOptions}. */
  constructor(options: SyslogFrameStreamOptions = {}) {
    const framer = new SyslogFramer(options);
    super({
      transform(chunk, controller) {
        const out: Uint8Array[] = [];
        framer.push(chunk, out);
        if (out.length > 0) controller.enqueue(out);
      },
      flush(controller) {
        const out: Uint8Array[] = [];
        framer.finish(out);
        if (out.length > 0) controller.enqueue(out);
      },
    });
    this.framer = framer;
  }
}
