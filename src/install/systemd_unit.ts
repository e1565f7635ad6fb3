/**
 * The systemd unit of kinesyslog and its override file, as text (pure: no file access).
 *
 * The unit runs `kinesyslog listen` configured by `KINESYSLOG_*` variables, which the
 * override file lists, commented, with their defaults. Choices:
 * - `network-online.target` ordering: listeners bind to configured addresses, and the first
 *   STS and Firehose calls need the network.
 * - `Restart=on-failure`, except on exit code 2, a configuration error: restarting cannot fix
 *   it, and the journal keeps the one-line reason.
 * - `StateDirectory=kinesyslog`: the spool lives in `/var/lib/kinesyslog/spool`, created
 *   for the service's user and kept across restarts and upgrades (the predecessor's unit
 *   spooled in a private /tmp, lost on every restart).
 * - Only `CAP_NET_BIND_SERVICE`, so ports below 1024 (514, 6514 is above) work unprivileged.
 * - Hardening that fits a network daemon with a JIT: a read-only system, no home, no
 *   devices, no kernel tunables. Not `MemoryDenyWriteExecute` (V8 writes executable code)
 *   and no `SystemCallFilter` (not measured against Deno's runtime here).
 * - `TimeoutStopSec` covers the shutdown: draining connections, spooling what is buffered,
 *   and a last delivery attempt.
 *
 * @module
 */
import { defaultText, envName, flags, type OptionSpec } from "../config/listen_options.ts";

/** The unit's name. */
export const UNIT_NAME = "kinesyslog.service";
/** Where the unit puts the spool: systemd's `StateDirectory` (`%S` is `/var/lib`). */
export const UNIT_SPOOL_DIR = "%S/kinesyslog/spool";
/** Seconds systemd waits for a stop before SIGKILL: above the grace, spool and upload timeouts together. */
export const UNIT_STOP_TIMEOUT_S = 90;

/** What the unit is made of. */
export interface UnitOptions {
  /** The command that starts the relay, `listen` excluded: the binary, or Deno with its flags. */
  command: string[];
  /** The account; undefined uses a systemd dynamic user. */
  user: string | undefined;
}

/** Quotes one word of a systemd command line when it needs it. */
export function unitWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `"${word.replace(/(["\\])/g, "\\$1")}"`;
}

/** The text of `kinesyslog.service`. */
export function systemdUnit(options: UnitOptions): string {
  const exec = [...options.command, "listen"].map(unitWord).join(" ");
  const account = options.user === undefined
    ? ["# A dynamic user, made for the service; --user NAME at install runs it as NAME instead.", "DynamicUser=yes"]
    : [`User=${options.user}`];
  return `# Written by \`kinesyslog install\`. Put local settings in the override file,
# ${UNIT_NAME}.d/override.conf (or \`systemctl edit kinesyslog\`), not here: a new
# install rewrites this file.
[Unit]
Description=kinesyslog: syslog and GELF relay to AWS Kinesis Data Firehose
Wants=network-online.target
After=network-online.target

[Service]
Type=exec
ExecStart=${exec}
# SIGHUP re-reads the TLS certificate, key and client CA; connections stay up.
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5
# Exit code 2 is a configuration error: restarting would not fix it.
RestartPreventExitStatus=2
TimeoutStopSec=${UNIT_STOP_TIMEOUT_S}
${account.join("\n")}
# The spool, kept across restarts: /var/lib/kinesyslog/spool.
StateDirectory=kinesyslog
StateDirectoryMode=0750
Environment=KINESYSLOG_SPOOL_DIR=${UNIT_SPOOL_DIR}
# Ports below 1024 without root.
AmbientCapabilities=CAP_NET_BIND_SERVICE
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
# One file descriptor per connection (--max-connections per listener).
LimitNOFILE=65536
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
UMask=0027

[Install]
WantedBy=multi-user.target
`;
}

/**
 * The text of `override.conf`: every `KINESYSLOG_*` variable of the option table, commented,
 * with its default (the unit's own value where it sets one) and its bounds.
 */
export function overrideFile(options: readonly OptionSpec[]): string {
  const lines = [
    "# Local settings of kinesyslog.service, kept by `kinesyslog install`. Uncomment and set",
    "# what you need, then: systemctl daemon-reload && systemctl restart kinesyslog",
    '# Lists take space-separated values: Environment="KINESYSLOG_UDP_PORT=514 1514".',
    "# A switch (no value) is on when its variable is true (also 1, yes, on) and off when it is",
    "# false (0, no, off); any other value stops the start (exit 2), as an out-of-bounds value does.",
    "#",
    "# TLS files must be readable by the service's user. With the dynamic user, hand them over",
    "# with LoadCredential and point at %d, the credentials directory:",
    "#   LoadCredential=tls.crt:/etc/kinesyslog/tls.crt",
    "#   LoadCredential=tls.key:/etc/kinesyslog/tls.key",
    "#   Environment=KINESYSLOG_CERT=%d/tls.crt KINESYSLOG_KEY=%d/tls.key",
    "# AWS credentials: the instance role, or AWS_* variables here; home directories are hidden",
    "# from the service (ProtectHome), so ~/.aws profiles are not read.",
    "# --output-dir: add ReadWritePaths=DIR, the rest of the file system is read-only.",
    "[Service]",
  ];
  for (const o of options) {
    if (o.hidden === true) continue;
    const env = envName(o);
    const switched = o.arg === undefined;
    const given = o.default === undefined ? "" : [o.default].flat().join(" ");
    const value = env === "KINESYSLOG_SPOOL_DIR" ? UNIT_SPOOL_DIR : switched ? "true" : given;
    const shown = defaultText(o);
    const notes = [
      switched ? "off unless true" : shown === undefined ? "no default" : `default: ${shown}`,
      ...(o.value?.edges === undefined ? [] : [o.value.range]),
      ...(o.choices === undefined ? [] : [o.choices.join(", ")]),
    ];
    lines.push("", `# ${flags(o)}: ${o.help} (${notes.join("; ")})`, `#Environment=${unitWord(`${env}=${value}`)}`);
  }
  return lines.join("\n") + "\n";
}
