/**
 * The benchmark's RELP client: opens a session as librelp does, then sends `syslog` commands
 * keeping at most `window` unanswered (rsyslog's `omrelp` default is 128), and counts the
 * answers. It writes as many commands as the window allows in one write, as `omrelp` does
 * for a batch.
 *
 * @module
 */

const enc = new TextEncoder();
const dec = new TextDecoder();

const OFFERS = "relp_version=0\nrelp_software=kinesyslog-bench,1,none\ncommands=syslog";

/** Sends `total` messages (taken from `messages`, cycled) over one RELP session; resolves once all are answered. */
export async function sendRelp(
  conn: Deno.Conn,
  messages: readonly string[],
  total: number,
  window: number,
): Promise<void> {
  await writeAll(conn, enc.encode(`1 open ${enc.encode(OFFERS).length} ${OFFERS}\n`));
  let text = "";
  const buffer = new Uint8Array(65_536);
  // The answer to open: "1 rsp LEN 200 OK\n<offers>\n".
  for (;;) {
    const m = /^1 rsp (\d+) /.exec(text);
    if (m !== null && text.length >= m[0].length + Number(m[1]) + 1) {
      if (!text.slice(m[0].length).startsWith("200 OK")) throw new Error(`open refused: ${text}`);
      break;
    }
    const n = await conn.read(buffer);
    if (n === null) throw new Error("the relay closed the session at open");
    text += dec.decode(buffer.subarray(0, n));
  }
  // "LEN MESSAGE\n" of each message, with its length in bytes.
  const tails = messages.map((m) => `${enc.encode(m).length} ${m}\n`);
  let sent = 0;
  let answered = 0;
  let txnr = 2;
  let wake: (() => void) | undefined;
  const reader = (async () => {
    while (answered < total) {
      const n = await conn.read(buffer);
      if (n === null) throw new Error(`the relay closed the session after ${answered} answers`);
      // Each answer to syslog is one line, "TXNR rsp 6 200 OK".
      for (let i = 0; i < n; i++) if (buffer[i] === 0x0a) answered++;
      wake?.();
    }
  })();
  while (sent < total) {
    while (sent - answered >= window) await new Promise<void>((resolve) => (wake = resolve));
    let batch = "";
    const upTo = Math.min(total, answered + window);
    for (; sent < upTo; sent++) {
      batch += `${txnr} syslog ${tails[sent % tails.length]!}`;
      txnr = txnr >= 999_999_999 ? 1 : txnr + 1;
    }
    await writeAll(conn, enc.encode(batch));
  }
  await reader;
  await writeAll(conn, enc.encode(`${txnr} close 0\n`));
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
}
