import { z } from "zod";
import { verdictSchema, VERDICT_SCHEMA_VERSION } from "./verdict.js";

/** JSON Schema of the verdict message, for SOAR consumers (exported to config/verdict.schema.json). */
export function verdictJsonSchema(): Record<string, unknown> {
  return {
    $id: `https://triage.local/schemas/verdict-${VERDICT_SCHEMA_VERSION}.json`,
    title: "Triage verdict",
    ...z.toJSONSchema(verdictSchema, { io: "output", unrepresentable: "any" }),
  };
}
