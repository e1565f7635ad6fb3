import { assert, assertEquals } from "../../tests/assert.ts";
import { overrideFile, systemdUnit, unitWord } from "./systemd_unit.ts";

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

Deno.test("overrideFile() lists each variable commented, with its default, the unit's spool, and switches", () => {
  const text = overrideFile([
    {
      flags: "--udp-port <port>",
      env: "KINESYSLOG_UDP_PORT",
      description: "UDP port",
      default: undefined,
      defaultText: undefined,
      boolean: false,
    },
    {
      flags: "--tls-port <port>",
      env: "KINESYSLOG_TLS_PORT",
      description: "TLS port",
      default: "6514",
      defaultText: "6514",
      boolean: false,
    },
    {
      flags: "--client-auth <mode>",
      env: "KINESYSLOG_CLIENT_AUTH",
      description: "client certificates",
      default: undefined,
      defaultText: "required with --client-ca, else none",
      boolean: false,
    },
    {
      flags: "--spool-dir <dir>",
      env: "KINESYSLOG_SPOOL_DIR",
      description: "spool",
      default: "/var/spool/kinesyslog",
      defaultText: "/var/spool/kinesyslog",
      boolean: false,
    },
    {
      flags: "--debug",
      env: "KINESYSLOG_DEBUG",
      description: "verbose",
      default: undefined,
      defaultText: undefined,
      boolean: true,
    },
  ]);
  const settings = text.split("\n").filter((l) => l.startsWith("#Environment="));
  assertEquals(settings, [
    "#Environment=KINESYSLOG_UDP_PORT=",
    "#Environment=KINESYSLOG_TLS_PORT=6514",
    "#Environment=KINESYSLOG_CLIENT_AUTH=",
    "#Environment=KINESYSLOG_SPOOL_DIR=%S/kinesyslog/spool",
    "#Environment=KINESYSLOG_DEBUG=1",
  ]);
  assert(
    text.includes("# --client-auth <mode>: client certificates (default: required with --client-ca, else none)\n"),
  );
  assert(text.includes("# --debug: verbose (off unless set)\n"));
  assert(text.includes("\n[Service]\n"));
});
