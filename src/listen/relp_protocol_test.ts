import { assert, assertEquals } from "../../tests/assert.ts";
import { Logger } from "../log.ts";
import { Metrics } from "../metrics/metrics.ts";
import type { ListenerInfo, StreamIngest } from "./ingest.ts";
import { MAX_UNANSWERED, relpProtocol } from "./relp_protocol.ts";

const INFO: ListenerInfo = {
  label: "relp/2514",
  name: "test",
  port: 2514,
  timeZone: undefined,
  format: "syslog",
  transport: "relp",
};
const OFFERS = "relp_version=0\nrelp_software=test,1,x\ncommands=syslog";
const COMMANDS_PER_READ = 64;

function frame(txnr: number, command: string, data: string): string {
  return `${txnr} ${command} ${new TextEncoder().encode(data).length}${data.length > 0 ? " " : ""}${data}\n`;
}

/** A RELP session whose messages go to `accept` and whose answers to `reply`. */
function openSession(accept: (frames: readonly Uint8Array[]) => void, reply: (bytes: Uint8Array) => Promise<void>) {
  const ingest: StreamIngest = {
    metrics: new Metrics(),
    log: new Logger({ level: "error" }),
    pressure: { ready: () => undefined },
    accept: (_info, _source, frames) => accept(frames),
    dropped: () => {},
    truncated: () => {},
  };
  return relpProtocol({
    durable: () => Promise.resolve(),
    software: { name: "kinesyslog", version: "test", url: "https://example.com" },
  }).open({ info: INFO, source: "10.0.0.9", ingest, maxMessageBytes: 1_000, reply, end: () => {}, progress: () => {} });
}

Deno.test("a RELP peer that sends and never reads its answers: reading stops at MAX_UNANSWERED, and the wait shows", async () => {
  let accepted = 0;
  let reads = 0;
  let cut = false;
  // The peer reads nothing: no write of an answer ever completes.
  const session = openSession((frames) => void (accepted += frames.length), () => new Promise(() => {}));
  // An endless sender: an open, then syslog commands, 64 to a read, for as long as they are read.
  let txnr = 1;
  const readable = new ReadableStream<Uint8Array>({
    async pull(controller) {
      // A read takes a turn of the event loop, as a socket's does.
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (cut) return controller.close();
      reads++;
      let text = txnr === 1 ? frame(txnr++, "open", OFFERS) : "";
      for (let i = 0; i < COMMANDS_PER_READ; i++) text += frame(txnr++, "syslog", `<13>message ${txnr}`);
      controller.enqueue(new TextEncoder().encode(text));
    },
  }, { highWaterMark: 0 });
  const consumed = session.consume(readable);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const [readsThen, acceptedThen] = [reads, accepted];
  await new Promise((resolve) => setTimeout(resolve, 200));
  assertEquals([reads, accepted], [readsThen, acceptedThen], "nothing more read while the answers wait");
  assert(accepted >= MAX_UNANSWERED - COMMANDS_PER_READ, `${accepted} taken in`);
  assert(
    accepted <= MAX_UNANSWERED + COMMANDS_PER_READ,
    `${accepted} taken in, past ${MAX_UNANSWERED} owed and a read`,
  );
  // The listener closes a connection whose answer has waited REPLY_TIMEOUT_MS: it can see it waiting.
  assert(session.replyWaitingSinceMs !== undefined, "an answer is waiting to be written");
  // Cut, as the listener does (the input ends, the session stops waiting).
  cut = true;
  session.abort();
  await consumed;
});

Deno.test("relpProtocol() takes and answers a command numbered 0 as librelp does, outside the count", async () => {
  const accepted: string[] = [];
  const replies: string[] = [];
  const session = openSession(
    (frames) => void accepted.push(...frames.map((f) => new TextDecoder().decode(f))),
    (bytes) => Promise.resolve(void replies.push(new TextDecoder().decode(bytes))),
  );
  const text = frame(1, "open", OFFERS) + frame(0, "syslog", "<13>numbered 0") + frame(2, "syslog", "<13>numbered 2");
  await session.consume(ReadableStream.from([new TextEncoder().encode(text)]));
  assertEquals(accepted, ["<13>numbered 0", "<13>numbered 2"]);
  const answers = replies.join("").split("\n").filter((l) => / rsp /.test(l));
  assertEquals(answers.slice(1), ["0 rsp 6 200 OK", "2 rsp 6 200 OK"]);
});
