import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, YAMLParseError } from "yaml";
import { compileMapping, type MappedFormat } from "./compile.js";
import { mappingSchema, type MappingSpec } from "./schema.js";

/** The built-in mappings: config/formats/ of this package (same relative place from src/ under tsx and from dist/). */
export const BUILTIN_FORMATS_DIR = fileURLToPath(new URL("../../../../config/formats/", import.meta.url));

/** Bounds on what a formats directory may hold (operators' files, but still bounded). */
const MAX_FILES = 200;
const MAX_FILE_BYTES = 256 * 1024;

export interface LoadedMapping {
  spec: MappingSpec;
  file: string;
}

/** Every *.yaml / *.yml mapping in `dir`, validated; problems name the file and the key path. */
export function readMappings(dir: string): { mappings: LoadedMapping[]; problems: string[] } {
  const problems: string[] = [];
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) return { mappings: [], problems: [`${dir}: not a directory`] };
    names = readdirSync(dir)
      .filter((n) => /\.ya?ml$/i.test(n))
      .sort();
  } catch (err) {
    return { mappings: [], problems: [`${dir}: ${(err as Error).message}`] };
  }
  if (names.length > MAX_FILES) return { mappings: [], problems: [`${dir}: ${names.length} mapping files, at most ${MAX_FILES} are read`] };
  const mappings: LoadedMapping[] = [];
  for (const name of names) {
    const file = join(dir, name);
    const loaded = readMapping(file);
    if ("problems" in loaded) problems.push(...loaded.problems);
    else mappings.push(loaded);
  }
  return { mappings, problems };
}

/** One mapping file, validated. */
export function readMapping(file: string): LoadedMapping | { problems: string[] } {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_FILE_BYTES) return { problems: [`${file}: ${size} bytes, above the ${MAX_FILE_BYTES}-byte limit for a mapping`] };
    text = readFileSync(file, "utf8");
  } catch (err) {
    return { problems: [`${file}: ${(err as Error).message}`] };
  }
  let data: unknown;
  try {
    data = parse(text, { maxAliasCount: 50 });
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` line ${err.linePos[0].line}` : "";
    return { problems: [`${file}:${where} not valid YAML: ${(err as Error).message.split("\n")[0]}`] };
  }
  const parsed = mappingSchema.safeParse(data);
  if (!parsed.success) {
    return { problems: parsed.error.issues.slice(0, 20).map((i) => `${file}: ${i.path.length ? i.path.join(".") : "(top level)"}: ${i.message}`) };
  }
  return { spec: parsed.data, file };
}

/**
 * Built-in mappings merged with the user's (a user mapping with a built-in's name replaces it), compiled.
 * Problems (unreadable file, bad key, duplicate name) are all returned together.
 */
export function compileMappings(builtin: readonly LoadedMapping[], user: readonly LoadedMapping[]): { formats: MappedFormat[]; problems: string[] } {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const m of user) {
    const other = seen.get(m.spec.name);
    if (other) problems.push(`${m.file}: name: "${m.spec.name}" is also the name of ${other}`);
    seen.set(m.spec.name, m.file);
  }
  const formats: MappedFormat[] = [];
  for (const m of [...user, ...builtin.filter((b) => !seen.has(b.spec.name))]) {
    try {
      formats.push(compileMapping(m.spec, m.file));
    } catch (err) {
      problems.push(`${m.file}: ${(err as Error).message}`);
    }
  }
  return { formats, problems };
}
