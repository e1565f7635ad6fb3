/**
 * A configuration error: a value out of its bounds, options that do not go together. The
 * command line prints its message as one line and exits with {@linkcode EXIT_CONFIG}.
 *
 * @module
 */

/** Exit code of a configuration error. */
export const EXIT_CONFIG = 2;

/** A configuration error: one line for stderr. */
export class ConfigError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** A startup failure (the machine, not the configuration) with one line for the operator; exits 1. */
export class StartupError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "StartupError";
  }
}
