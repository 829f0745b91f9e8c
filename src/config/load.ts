import { readFileSync } from "node:fs";
import { redactUrls } from "../core/redact.js";
import { jsonErrorPosition } from "./json-position.js";
import { configSchema, options, type Config, type OptionName } from "./schema.js";
import { closest } from "./suggest.js";

/** Raised when configuration is invalid; lists every problem at once. */
export class ConfigError extends Error {
  readonly code = "config_invalid";
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

const names = Object.keys(options) as OptionName[];

const withSuggestion = (name: string) => {
  const suggestion = closest(name, names);
  return suggestion ? `${name} (did you mean ${suggestion}?)` : name;
};

function readFileOptions(path: string): { values: Record<string, unknown>; problems: string[] } {
  let text: string;
  try {
    text = readFileSync(path, "utf8").replace(/^\uFEFF/, "");
  } catch (err) {
    return { values: {}, problems: [`TRIAGE_CONFIG_FILE ${path}: ${(err as Error).message}`] };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON.parse's message: it quotes the text around the error, and that text can be an API key.
    const at = jsonErrorPosition(text);
    return { values: {}, problems: [`TRIAGE_CONFIG_FILE ${path}: not valid JSON${at ? ` at line ${at.line}, column ${at.column}` : ""}`] };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return { values: {}, problems: [`TRIAGE_CONFIG_FILE ${path}: must contain a JSON object`] };
  }
  // Numbers/booleans in the file are accepted as their string form, like env values.
  const values = Object.fromEntries(
    Object.entries(parsed).map(([k, v]) => [k, typeof v === "number" || typeof v === "boolean" ? String(v) : Array.isArray(v) ? v.join(",") : v]),
  );
  return { values, problems: [] };
}

/**
 * Option-name prefixes that only we use: any unknown variable with one of them is reported. Prefixes that other
 * software shares (HTTP_PROXY, LOG_FORMAT, MAX_...) are reported only when the name is a near miss of an option.
 */
const GENERIC_PREFIXES = new Set([
  "HTTP",
  "LOG",
  "MAX",
  "INPUT",
  "MEMORY",
  "MODEL",
  "BATCH",
  "SINK",
  "SHUTDOWN",
  "PIPELINE",
  "SINGLE",
  "TRUST",
  "OVERRIDE",
  "ESCALATE",
  "GUARD",
  "LLM",
  "TI",
]);
const prefixOf = (name: string) => name.split("_")[0]!;
const ownPrefixes = new Set(names.map(prefixOf));

/** Warnings for environment variables that look meant for us but are no option (a typo is silently ignored otherwise). */
export function unknownVariableWarnings(env: NodeJS.ProcessEnv): string[] {
  const known = new Set<string>(names);
  const warnings: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (known.has(name) || !name.includes("_") || !ownPrefixes.has(prefixOf(name))) continue;
    const suggestion = closest(name, names);
    if (suggestion) warnings.push(`${name} is not an option and is ignored; did you mean ${suggestion}?`);
    else if (!GENERIC_PREFIXES.has(prefixOf(name))) warnings.push(`${name} is not an option and is ignored`);
  }
  return warnings;
}

export interface LoadOptions {
  /** Receives each warning (unknown variables with our prefixes); default: one line on stderr each. */
  onWarning?: (warning: string) => void;
}

const stderrWarning = (warning: string) => void process.stderr.write(`config warning: ${warning}\n`);

/** Parse configuration once from env (+ optional JSON file); frozen; throws ConfigError with all problems. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, opts: LoadOptions = {}): Config {
  const fromEnv: Record<string, unknown> = {};
  for (const name of names) if (env[name] !== undefined) fromEnv[name] = env[name];
  for (const warning of unknownVariableWarnings(env)) (opts.onWarning ?? stderrWarning)(warning);
  const file =
    typeof fromEnv.TRIAGE_CONFIG_FILE === "string" && fromEnv.TRIAGE_CONFIG_FILE !== ""
      ? readFileOptions(fromEnv.TRIAGE_CONFIG_FILE)
      : { values: {}, problems: [] };
  const result = configSchema.safeParse({ ...file.values, ...fromEnv });
  const problems = [...file.problems];
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = issue.path.join(".") || "(config)";
      const got = key in fromEnv ? fromEnv[key] : (file.values as Record<string, unknown>)[key];
      const secret = (options as Record<string, { doc: { secret?: boolean } }>)[key]?.doc.secret;
      const shown = got === undefined || secret ? "" : ` (got ${redactUrls(JSON.stringify(got) ?? String(got))})`;
      problems.push(issue.code === "unrecognized_keys" ? `unknown option(s) ${issue.keys.map(withSuggestion).join(", ")}` : `${key}: ${issue.message}${shown}`);
    }
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return deepFreeze(result.data) as Config;
}

/** Freeze a value and everything reachable from it (arrays, nested objects): config is read-only everywhere. */
export function deepFreeze<T>(value: T, seen: WeakSet<object> = new WeakSet()): Readonly<T> {
  if (value === null || typeof value !== "object" || seen.has(value)) return value;
  seen.add(value);
  for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key], seen);
  return Object.freeze(value);
}
