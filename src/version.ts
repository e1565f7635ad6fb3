/** The relay's version, printed by `--version` and in the startup line. */
export const VERSION = "2.0.0-dev";
