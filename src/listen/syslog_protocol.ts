import { SyslogFrameStream } from "../framing/syslog_frame_stream.ts";
import type { ProtocolContext, ProtocolSession, StreamProtocol } from "./stream_protocol.ts";

/**
 * Syslog over TCP and TLS (RFC 6587 framing, RFC 5425), and GELF over TCP when the listener
 * receives GELF: frames through a {@linkcode SyslogFrameStream} into the ingest, one call per
 * read. No answers: the sender learns nothing of what was kept (see RELP for that).
 */
export const syslogProtocol: StreamProtocol = {
  open(context: ProtocolContext): ProtocolSession {
    const { info, source, ingest, maxMessageBytes } = context;
    const gelf = info.format === "gelf";
    const frames = new SyslogFrameStream({
      maxMessageBytes,
      gelf,
      // A cut GELF document is useless: the framer drops it, counted here.
      onTruncated: gelf
        ? () => ingest.dropped(info, source, "oversize")
        : (bytes) => ingest.truncated(info, source, bytes, maxMessageBytes),
    });
    return {
      consume: (readable) =>
        readable.pipeThrough(frames).pipeTo(
          new WritableStream({
            write: (batch) => {
              context.progress();
              ingest.accept(info, source, batch, Date.now());
              return ingest.pressure.ready();
            },
          }),
        ),
      discard: () => frames.framer.discard(),
      shutdown: () => {},
      abort: () => {},
      replyWaitingSinceMs: undefined,
    };
  },
};
