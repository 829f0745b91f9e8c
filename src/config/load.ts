import { readFileSync } from "node:fs";
import { configSchema, options, type Config, type OptionName } from "./schema.js";

/** Raised when configuration is invalid; lists every problem at once. */
export class ConfigError extends Error {
  readonly code = "config_invalid";
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

const names = Object.keys(options) as OptionName[];

function readFileOptions(path: string): { values: Record<string, unknown>; problems: string[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    return { values: {}, problems: [`TRIAGE_CONFIG_FILE ${path}: ${(err as Error).message}`] };
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

/** Parse configuration once from env (+ optional JSON file); frozen; throws ConfigError with all problems. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const fromEnv: Record<string, unknown> = {};
  for (const name of names) if (env[name] !== undefined) fromEnv[name] = env[name];
  const file = typeof fromEnv.TRIAGE_CONFIG_FILE === "string" && fromEnv.TRIAGE_CONFIG_FILE !== "" ? readFileOptions(fromEnv.TRIAGE_CONFIG_FILE) : { values: {}, problems: [] };
  const result = configSchema.safeParse({ ...file.values, ...fromEnv });
  const problems = [...file.problems];
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = issue.path.join(".") || "(config)";
      const got = key in fromEnv ? fromEnv[key] : (file.values as Record<string, unknown>)[key];
      const secret = (options as Record<string, { doc: { secret?: boolean } }>)[key]?.doc.secret;
      const shown = got === undefined || secret ? "" : ` (got ${JSON.stringify(got)})`;
      problems.push(issue.code === "unrecognized_keys" ? `unknown option(s) ${issue.keys.join(", ")}` : `${key}: ${issue.message}${shown}`);
    }
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return Object.freeze(result.data) as Config;
}
