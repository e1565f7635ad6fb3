/**
 * `kinesyslog install [--system-dir DIR] [--user NAME] [--exec PATH]`: writes the systemd
 * unit and, unless one exists, its override file listing every setting. It starts nothing:
 * it prints the `systemctl` commands to run.
 *
 * @module
 */
import { LISTEN_OPTIONS } from "../config/listen_options.ts";
import { overrideFile, systemdUnit, UNIT_NAME } from "./systemd_unit.ts";

/** Options of `kinesyslog install`. */
export interface InstallOptions {
  /** Directory the unit is written to. */
  systemDir: string;
  /** Account the service runs as; undefined runs it as a systemd dynamic user. */
  user: string | undefined;
  /** Path of the kinesyslog binary; undefined is the running one. */
  exec: string | undefined;
}

/** Where `install` writes. */
export interface InstallOutput {
  /** Writes to stdout. */
  out: (text: string) => void;
  /** Writes one line to stderr. */
  err: (line: string) => void;
}

/** A user name systemd accepts (the portable subset). */
const USER_NAME = /^[a-z_][a-z0-9_-]{0,30}$/;

/** Runs `install`; resolves to the exit code (2 for a usage error, 1 when a file cannot be written). */
export async function install(options: InstallOptions, io: InstallOutput): Promise<number> {
  const exec = options.exec ?? compiledBinary();
  if (exec === undefined) {
    io.err(
      "kinesyslog: install writes a unit for the compiled binary: run `deno task compile` and then " +
        "`dist/kinesyslog install`, or give --exec PATH of the installed binary",
    );
    return 2;
  }
  if (!exec.startsWith("/")) {
    io.err(`kinesyslog: --exec '${exec}' must be an absolute path (systemd runs it from /)`);
    return 2;
  }
  if (options.user !== undefined && !USER_NAME.test(options.user)) {
    io.err(`kinesyslog: --user '${options.user}' is not a valid user name`);
    return 2;
  }
  const unitPath = `${options.systemDir}/${UNIT_NAME}`;
  const dropIns = `${options.systemDir}/${UNIT_NAME}.d`;
  const overridePath = `${dropIns}/override.conf`;
  let keptOverride = false;
  try {
    if (!(await Deno.stat(options.systemDir)).isDirectory) throw new Error("not a directory");
    await Deno.writeTextFile(unitPath, systemdUnit({ command: [exec], user: options.user }));
    await Deno.mkdir(dropIns, { recursive: true });
    try {
      await Deno.writeTextFile(overridePath, overrideFile(LISTEN_OPTIONS), { createNew: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      keptOverride = true;
    }
  } catch (error) {
    io.err(`kinesyslog: Cannot install into '${options.systemDir}': ${(error as Error).message} (--system-dir)`);
    return 1;
  }
  io.out(
    `Wrote ${unitPath}\n` +
      (keptOverride
        ? `Kept ${overridePath} (it exists; remove it and install again for a fresh list of settings)\n`
        : `Wrote ${overridePath}\n`) +
      `Next: set KINESYSLOG_STREAM (and ports, certificates) in ${overridePath}, then:\n` +
      "  systemctl daemon-reload\n" +
      "  systemctl enable --now kinesyslog\n" +
      "  journalctl -u kinesyslog -f\n",
  );
  return 0;
}

/** The running executable when it is the compiled kinesyslog, not Deno running the sources. */
function compiledBinary(): string | undefined {
  const path = Deno.execPath();
  return /(^|\/)deno(\.exe)?$/.test(path) ? undefined : path;
}
