/**
 * The line every benchmark report starts with: the command that made it, the date and the
 * machine (target, cores, Deno).
 *
 * @module
 */

/** `Command: \`<command>\`; <date>; <target>, <cores> cores, Deno <version>.` */
export function commandLine(command: string): string {
  return `Command: \`${command}\`; ${
    new Date().toISOString().slice(0, 10)
  }; ${Deno.build.target}, ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}.`;
}
