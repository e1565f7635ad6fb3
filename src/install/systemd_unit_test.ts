import { assert, assertEquals } from "../../tests/assert.ts";
import { overrideFile, systemdUnit, unitWord } from "./systemd_unit.ts";
import { bytes, ports } from "../config/option_values.ts";

Deno.test("unitWord() quotes only words systemd would split or expand", async (t) => {
  const cases: [string, string][] = [
    ["/usr/local/bin/kinesyslog", "/usr/local/bin/kinesyslog"],
    ["KINESYSLOG_ADDRESS=0.0.0.0", "KINESYSLOG_ADDRESS=0.0.0.0"],
    ["KINESYSLOG_UDP_PORT=514 1514", '"KINESYSLOG_UDP_PORT=514 1514"'],
    ['a"b\\c', '"a\\"b\\\\c"'],
  ];
  for (const [word, quoted] of cases) await t.step(word, () => assertEquals(unitWord(word), quoted));
});

Deno.test("systemdUnit() runs `listen` as the given user, or as a dynamic user", () => {
  const named = systemdUnit({ command: ["/opt/kinesyslog dir/kinesyslog"], user: "syslog" });
  assert(named.includes('\nExecStart="/opt/kinesyslog dir/kinesyslog" listen\n'));
  assert(named.includes("\nUser=syslog\n") && !named.includes("DynamicUser"));
  assert(systemdUnit({ command: ["/k"], user: undefined }).includes("\nDynamicUser=yes\n"));
});

Deno.test("overrideFile() lists each variable commented, with its default, bounds, the unit's spool, and switches", () => {
  const text = overrideFile([
    { name: "udp-port", arg: "<port>", group: "Listeners", help: "UDP port", value: ports() },
    { name: "tls-port", arg: "<port>", group: "Listeners", help: "TLS port", value: ports([6514]), default: [6514] },
    {
      name: "client-auth",
      arg: "<mode>",
      group: "TLS",
      help: "client certificates",
      choices: ["none", "required"],
      defaultText: "required with --client-ca, else none",
    },
    { name: "spool-dir", arg: "<dir>", group: "Spool and journal", help: "spool", default: "/var/spool/kinesyslog" },
    {
      name: "flush-size",
      arg: "<bytes>",
      group: "Batching and records",
      help: "size",
      value: bytes(1, 1024),
      default: 4,
    },
    { name: "port", arg: "<port>", group: "Listeners", help: "old name", value: ports(), hidden: true },
    { name: "debug", group: "Metrics and logs", help: "verbose" },
  ]);
  const settings = text.split("\n").filter((l) => l.startsWith("#Environment="));
  assertEquals(settings, [
    "#Environment=KINESYSLOG_UDP_PORT=",
    "#Environment=KINESYSLOG_TLS_PORT=6514",
    "#Environment=KINESYSLOG_CLIENT_AUTH=",
    "#Environment=KINESYSLOG_SPOOL_DIR=%S/kinesyslog/spool",
    "#Environment=KINESYSLOG_FLUSH_SIZE=4",
    "#Environment=KINESYSLOG_DEBUG=true",
  ]);
  assert(
    text.includes(
      "# --client-auth <mode>: client certificates (default: required with --client-ca, else none; none, required)\n",
    ),
  );
  assert(text.includes("# --flush-size <bytes>: size (default: 4; 1 byte to 1 KiB)\n"));
  assert(text.includes("# --debug: verbose (off unless true)\n"));
  assert(text.includes("any other value stops the start"));
  assert(text.includes("\n[Service]\n"));
});
