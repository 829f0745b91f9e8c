import { options } from "./schema.js";

/** Markdown table of every option, generated from the schema so README cannot drift. */
export function configTable(): string {
  const rows = Object.entries(options).map(([name, o]) => {
    const def = o.doc.default === "(unset)" || o.doc.default === "(empty)" ? o.doc.default : `\`${o.doc.default}\``;
    return `| \`${name}\` | ${def} | ${o.doc.bounds} | ${o.doc.description} |`;
  });
  return ["| Variable | Default | Bounds | Meaning |", "| --- | --- | --- | --- |", ...rows].join("\n");
}
