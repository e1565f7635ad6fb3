/**
 * What the fault suites share: a temporary directory with a started local Firehose endpoint,
 * numbered lines to send, what arrived of them, records and segments to plant on disk.
 */
import { gzipSync } from "node:zlib";
import { assert } from "./assert.ts";
import { FirehoseEndpoint } from "./firehose_endpoint.ts";

const enc = new TextEncoder();

/** The numbers `n` of delivered messages that carry `<tag>=<n>`, with how often each arrived. */
export function delivered(endpoint: FirehoseEndpoint, tag: string): Map<number, number> {
  const seen = new Map<number, number>();
  const pattern = new RegExp(`${tag}=(\\d+)`);
  for (const e of endpoint.events()) {
    const m = pattern.exec(e.message);
    if (m !== null) seen.set(Number(m[1]), (seen.get(Number(m[1])) ?? 0) + 1);
  }
  return seen;
}

/** RFC 5424 lines numbered `<tag>=<from>` up to `<tag>=<to - 1>`. */
export function lines(tag: string, from: number, to: number): string {
  let text = "";
  for (let i = from; i < to; i++) text += `<13>1 2026-11-24T00:00:00Z host app - - - ${tag}=${i}\n`;
  return text;
}

/** Names of the regular files in `dir`, sorted; none when it does not exist. */
export function files(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].filter((f) => f.isFile).map((f) => f.name).sort();
  } catch {
    return [];
  }
}

/** Runs `body` with a temporary directory and a started endpoint, and cleans both up. */
export async function withEndpoint(body: (dir: string, endpoint: FirehoseEndpoint) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kinesyslog-fault-" });
  const endpoint = new FirehoseEndpoint("logs").start();
  try {
    await body(dir, endpoint);
  } finally {
    await endpoint.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** A record as the relay writes it, holding `messages`. */
export function record(messages: string[]): Uint8Array {
  return gzipSync(enc.encode(JSON.stringify({
    messageType: "DATA_MESSAGE",
    owner: "123456789012",
    logGroup: "/kinesyslog/syslog/514",
    logStream: "127.0.0.1",
    subscriptionFilters: [],
    logEvents: messages.map((message, i) => ({ id: crypto.randomUUID(), timestamp: 1_700_000_000_000 + i, message })),
  })));
}

/** Records accepted more than once (the same content: same gzip CRC-32 and length). */
export function duplicateRecords(endpoint: FirehoseEndpoint): number {
  const seen = new Set<string>();
  let duplicates = 0;
  for (const r of endpoint.records) {
    // A gzip member ends with the CRC-32 and length of its content: equal records, equal tails.
    const key = `${r.length}:${r.subarray(r.length - 8).join(",")}`;
    if (seen.has(key)) duplicates++;
    seen.add(key);
  }
  return duplicates;
}

/** Whether this machine lets the tests mount a small tmpfs (root with CAP_SYS_ADMIN), to fill a disk for real. */
export const CAN_MOUNT = (() => {
  try {
    const dir = Deno.makeTempDirSync({ prefix: "kinesyslog-mount-" });
    const ok = new Deno.Command("mount", { args: ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir], stderr: "null" })
      .outputSync().success;
    if (ok) new Deno.Command("umount", { args: [dir] }).outputSync();
    Deno.removeSync(dir);
    return ok;
  } catch {
    return false;
  }
})();

/** Mounts a tmpfs of `size` at `path` (created); returns a function that unmounts it. */
export async function mountTmpfs(path: string, size: string): Promise<() => Promise<void>> {
  await Deno.mkdir(path, { recursive: true });
  const mounted = await new Deno.Command("mount", { args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", path] })
    .output();
  assert(mounted.success, "tmpfs mounted");
  return async () => void await new Deno.Command("umount", { args: [path] }).output();
}

/** `.tmp` files in `dir`. */
export function tmpFiles(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".tmp"));
}
