import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { options } from "../../../src/config/schema.js";
import { parse } from "yaml";

/** The repository root. */
export const root = fileURLToPath(new URL("../../../", import.meta.url));

/** A file under the repository root, as text. */
export function readRepoFile(path: string): string {
  return readFileSync(join(root, path), "utf8");
}

/** A YAML file under the repository root, as a plain object tree. */
export function readYaml(path: string): Record<string, any> {
  const doc: unknown = parse(readRepoFile(path));
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new Error(`${path}: expected a mapping at the top`);
  return doc as Record<string, any>;
}

/** Names of every configuration option (environment variable) the service reads. */
export const optionNames = new Set(Object.keys(options));

/** Options documented as secrets (API keys, tokens): they belong in a Secret / .env, never in plain config. */
export const secretOptionNames = new Set(
  Object.entries(options)
    .filter(([, o]) => (o.doc as { secret?: boolean }).secret)
    .map(([name]) => name),
);

/** An option's documented default, as the schema states it. */
export function optionDefault(name: string): string {
  return (options as Record<string, { doc: { default: string } }>)[name]!.doc.default;
}

/** Kubernetes/compose-style durations ("45s", "2m") and memory quantities ("320Mi") as numbers. */
export function durationMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(text);
  if (!m) throw new Error(`not a duration: ${text}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
}

export function memoryBytes(text: string): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(text);
  if (!m) throw new Error(`not a memory quantity: ${text}`);
  return Number(m[1]) * (m[2] ? { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 }[m[2] as "Ki" | "Mi" | "Gi"] : 1);
}
