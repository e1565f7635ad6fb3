import { assert, assertEquals } from "../../tests/assert.ts";
import { Logger } from "../log.ts";
import { Metrics } from "../metrics/metrics.ts";
import type { ListenerInfo, StreamIngest } from "./ingest.ts";
import { MAX_UNANSWERED, relpProtocol } from "./relp_protocol.ts";

const INFO: ListenerInfo = { label: "relp/2514", logGroup: "/k/syslog/2514", format: "syslog", transport: "relp" };
const OFFERS = "relp_version=0\nrelp_software=test,1,x\ncommands=syslog";
const COMMANDS_PER_READ = 64;

function frame(txnr: number, command: string, data: string): string {
  return `${txnr} ${command} ${new TextEncoder().encode(data).length}${data.length > 0 ? " " : ""}${data}\n`;
}

Deno.test("a RELP peer that sends and never reads its answers: reading stops at MAX_UNANSWERED, and the wait shows", async () => {
  let accepted = 0;
  let reads = 0;
  let cut = false;
  const ingest: StreamIngest = {
    metrics: new Metrics(),
    log: new Logger({ level: "error" }),
    pressure: { ready: () => undefined },
    accept: (_info, _source, frames) => void (accepted += frames.length),
    dropped: () => {},
    truncated: () => {},
  };
  const session = relpProtocol({
    durable: () => Promise.resolve(),
    software: { name: "kinesyslog", version: "test", url: "https://example.com" },
  }).open({
    info: INFO,
    source: "10.0.0.9",
    ingest,
    maxMessageBytes: 1_000,
    // The peer reads nothing: no write of an answer ever completes.
    reply: () => new Promise(() => {}),
    end: () => {},
    progress: () => {},
  });
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
