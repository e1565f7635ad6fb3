/**
 * Logging to stderr, one line per event: `<ISO time> <LEVEL> <message> key=value ...`.
 * Errors that can repeat per message or connection go through {@linkcode Logger.limited},
 * which lets a few through per interval and then reports how many were suppressed.
 *
 * @module
 */

/** Log levels, most verbose first. */
export type Level = "debug" | "info" | "warn" | "error";
const RANK: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Lines one rate-limited key may log per interval. */
export const LIMITED_LINES_PER_INTERVAL = 5;
/** The rate-limit interval, in ms. */
export const LIMITED_INTERVAL_MS = 10_000;

/** Fields appended to a line as `key=value`. */
export type Fields = Record<string, string | number | boolean | undefined>;

const encoder = new TextEncoder();

/** A leveled logger writing to stderr. */
export class Logger {
  #min: number;
  readonly #limits = new Map<string, { start: number; lines: number; suppressed: number }>();

  /** Creates a logger that writes `level` and above. */
  constructor(level: Level = "info", readonly write: (line: string) => void = writeStderr) {
    this.#min = RANK[level];
  }

  /** Changes the minimum level. */
  setLevel(level: Level): void {
    this.#min = RANK[level];
  }

  /** Logs at debug level. */
  debug(message: string, fields?: Fields): void {
    this.#log("debug", message, fields);
  }
  /** Logs at info level. */
  info(message: string, fields?: Fields): void {
    this.#log("info", message, fields);
  }
  /** Logs at warn level. */
  warn(message: string, fields?: Fields): void {
    this.#log("warn", message, fields);
  }
  /** Logs at error level. */
  error(message: string, fields?: Fields): void {
    this.#log("error", message, fields);
  }

  /**
   * Logs at most {@linkcode LIMITED_LINES_PER_INTERVAL} lines per `key` per interval; the
   * first line after a quiet interval says how many were suppressed.
   */
  limited(level: Level, key: string, message: string, fields?: Fields, now = Date.now()): void {
    let state = this.#limits.get(key);
    if (state === undefined || now - state.start >= LIMITED_INTERVAL_MS) {
      const suppressed = state?.suppressed ?? 0;
      state = { start: now, lines: 0, suppressed: 0 };
      this.#limits.set(key, state);
      if (suppressed > 0) fields = { ...fields, suppressed };
    }
    if (state.lines < LIMITED_LINES_PER_INTERVAL) {
      state.lines++;
      this.#log(level, message, fields);
    } else {
      state.suppressed++;
    }
  }

  #log(level: Level, message: string, fields?: Fields): void {
    if (RANK[level] < this.#min) return;
    let line = `${new Date().toISOString()} ${level.toUpperCase()} ${message}`;
    if (fields !== undefined) {
      for (const [key, value] of Object.entries(fields)) {
        if (value === undefined) continue;
        const text = String(value);
        line += ` ${key}=${/[\s"=]/.test(text) || text === "" ? JSON.stringify(text) : text}`;
      }
    }
    this.write(line);
  }
}

function writeStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

/** The process-wide logger. */
export const log: Logger = new Logger();
