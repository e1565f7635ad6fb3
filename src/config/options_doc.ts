/**
 * The option reference (`docs/options.md`), made from the option table: each option once,
 * by group, with its variable, default, bounds and help. `deno task docs` writes it, and a
 * test keeps the file equal to what the table makes.
 *
 * @module
 */
import { defaultText, envName, flags, LISTEN_OPTIONS, OPTION_GROUPS, type OptionSpec } from "./listen_options.ts";

const PREAMBLE = `# Options of \`kinesyslog listen\`

Generated from the option table (\`src/config/listen_options.ts\`) by \`deno task docs\`; a test
keeps this page equal to it. \`kinesyslog listen --help\` shows the same, and
\`kinesyslog install\` writes the same into its override file.

Every option can also be set as a variable, \`KINESYSLOG_<OPTION>\` (for example
\`KINESYSLOG_UDP_PORT="514 1514"\`); the command line wins, and lists in variables are
space-separated. Most options also have a key in a configuration file (\`--config FILE\`,
[pipelines](pipelines.md)), shown as \`file: section.name\`; the variable and the command line win
over the file. An on/off option's variable (\`KINESYSLOG_GELF\`, \`KINESYSLOG_NO_JOURNAL\`, ...)
takes \`true\`/\`false\`, \`1\`/\`0\`, \`yes\`/\`no\` or \`on\`/\`off\` and nothing else.

Every number is bounded by what it means: a timeout of at most a day, a size of at most what
a disk or the relay's memory bounds could use, connections within the descriptors the process
may open. A value out of bounds, or options that do not go together, stop the start before
anything listens: one line on stderr naming the flag or the variable and the value, exit
code 2. What the machine refuses (a port in use, a missing certificate, a directory that
cannot be written, no AWS region for \`--stream\`) stops it with exit code 1. Byte sizes take
units: \`10G\`, \`512M\`, \`64K\` (powers of 1024; \`GB\`, \`MB\`, \`KB\` of 1000).
`;

/** The reference of every option, as Markdown. */
export function optionsReference(): string {
  const parts = [PREAMBLE];
  for (const group of OPTION_GROUPS) {
    parts.push(`## ${group}\n`);
    for (const spec of LISTEN_OPTIONS.filter((o) => o.group === group)) parts.push(optionEntry(spec));
  }
  return parts.join("\n");
}

/** One option: its flag as a heading, a line of facts, and what it does. */
function optionEntry(spec: OptionSpec): string {
  const shown = defaultText(spec);
  const facts = [
    `\`${envName(spec)}\``,
    ...(spec.key === undefined ? [] : [`file: \`${spec.key}\``]),
    spec.arg === undefined ? "a switch, off unless given" : shown === undefined ? "no default" : `default ${shown}`,
    ...(spec.value?.edges === undefined ? [] : [spec.value.range]),
    ...(spec.choices === undefined ? [] : [`one of ${spec.choices.map((c) => `\`${c}\``).join(", ")}`]),
  ];
  const help = spec.help.charAt(0).toUpperCase() + spec.help.slice(1);
  const hidden = spec.hidden === true ? " Accepted, not shown by `--help`." : "";
  return [
    `### \`${flags(spec)}\``,
    "",
    facts.join(" · "),
    "",
    `${help}.${spec.doc === undefined ? "" : ` ${spec.doc}`}${hidden}`,
    "",
  ].join("\n");
}
