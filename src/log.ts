/**
 * Logging to stderr, one line per event, as text (`<ISO time> <LEVEL> <message> key=value ...`)
 * or as JSON (`{"time":…,"level":…,"msg":…,"key":value,…}`, `--log-format json`).
 *
 * Errors that can repeat per message or connection go through {@linkcode Logger.limited}: a
 * key logs at most {@linkcode LIMITED_LINES_PER_INTERVAL} lines per interval, and when the
 * interval that suppressed lines ends, one line says how many were suppressed.
 *
 * @module
 */

/** Log levels, most verbose first. */
export type Level = "debug" | "info" | "warn" | "error";
/** Every level, most verbose first. */
export const LEVELS: readonly Level[] = ["debug", "info", "warn", "error"];
const RANK: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** How a line is written. */
export type LogFormat = "text" | "json";
/** Every format. */
export const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

/** Lines one rate-limited key may log per interval. */
export const LIMITED_LINES_PER_INTERVAL = 5;
/** The rate-limit interval, in ms. */
export const LIMITED_INTERVAL_MS = 10_000;

/** Fields appended to a line. */
export type Fields = Record<string, string | number | boolean | undefined>;

/** Options of {@linkcode Logger}. */
export interface LoggerOptions {
  /** Lowest level written. @default {"info"} */
  level?: Level;
  /** Line format. @default {"text"} */
  format?: LogFormat;
  /** Writes one line (without its newline). @default writes to stderr */
  write?: (line: string) => void;
  /** The clock, in ms. @default {Date.now} */
  now?: () => number;
  /**
   * Runs `report` after `ms`, without keeping the process alive; used for the
   * suppressed-lines summary. @default an unref'd `setTimeout`
   */
  schedule?: (report: () => void, ms: number) => void;
}

interface Limit {
  start: number;
  lines: number;
  suppressed: number;
}

const encoder = new TextEncoder();

/** A leveled logger writing one line per event. */
export class Logger {
  #min: number;
  #format: LogFormat;
  readonly #write: (line: string) => void;
  readonly #now: () => number;
  readonly #schedule: (report: () => void, ms: number) => void;
  readonly #limits = new Map<string, Limit>();

  /** Creates a logger. */
  constructor(options: LoggerOptions = {}) {
    this.#min = RANK[options.level ?? "info"];
    this.#format = options.format ?? "text";
    this.#write = options.write ?? writeStderr;
    this.#now = options.now ?? Date.now;
    this.#schedule = options.schedule ?? scheduleUnref;
  }

  /** Changes the lowest level written and the format. */
  configure(options: { level: Level; format: LogFormat }): void {
    this.#min = RANK[options.level];
    this.#format = options.format;
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
   * Logs at most {@linkcode LIMITED_LINES_PER_INTERVAL} lines per `key` per interval. When
   * an interval ends that suppressed lines, one line at the same level reports the message
   * and `suppressed=<count>`.
   */
  limited(level: Level, key: string, message: string, fields?: Fields): void {
    if (RANK[level] < this.#min) return;
    const now = this.#now();
    let state = this.#limits.get(key);
    if (state === undefined || now - state.start >= LIMITED_INTERVAL_MS) {
      state = { start: now, lines: 0, suppressed: 0 };
      this.#limits.set(key, state);
    }
    if (state.lines < LIMITED_LINES_PER_INTERVAL) {
      state.lines++;
      this.#log(level, message, fields);
      return;
    }
    if (state.suppressed++ === 0) {
      const limit = state;
      this.#schedule(() => {
        this.#log(level, `Suppressed repeats: ${message}`, {
          suppressed: limit.suppressed,
          intervalSeconds: LIMITED_INTERVAL_MS / 1000,
        });
        if (this.#limits.get(key) === limit) this.#limits.delete(key);
      }, Math.max(0, limit.start + LIMITED_INTERVAL_MS - now));
    }
  }

  #log(level: Level, message: string, fields?: Fields): void {
    if (RANK[level] < this.#min) return;
    const time = new Date(this.#now()).toISOString();
    this.#write(
      this.#format === "json" ? jsonLine(time, level, message, fields) : textLine(time, level, message, fields),
    );
  }
}

/** `<time> <LEVEL> <message> key=value ...`, quoting values with spaces, quotes or `=`. */
export function textLine(time: string, level: Level, message: string, fields?: Fields): string {
  let line = `${time} ${level.toUpperCase()} ${message}`;
  if (fields !== undefined) {
    for (const [key, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      const text = String(value);
      line += ` ${key}=${/[\s"=]/.test(text) || text === "" ? JSON.stringify(text) : text}`;
    }
  }
  return line;
}

/** One JSON object: `time`, `level` and `msg` first, then the fields (which cannot replace those three). */
export function jsonLine(time: string, level: Level, message: string, fields?: Fields): string {
  const object: Record<string, string | number | boolean> = { time, level, msg: message };
  if (fields !== undefined) {
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined && !(key in object)) {
        object[key] = typeof value === "number" && !Number.isFinite(value) ? String(value) : value;
      }
    }
  }
  return JSON.stringify(object);
}

function writeStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

function scheduleUnref(report: () => void, ms: number): void {
  const timer = setTimeout(report, ms);
  Deno.unrefTimer(timer);
}

/** The process-wide logger. */
export const log: Logger = new Logger();
