// Writes config/verdict.schema.json from the zod verdict schema (run: npm run schema).
import { writeFileSync } from "node:fs";
import { verdictJsonSchema } from "../src/core/verdict-json-schema.js";

writeFileSync(new URL("../config/verdict.schema.json", import.meta.url), `${JSON.stringify(verdictJsonSchema(), null, 2)}\n`);
console.error("wrote config/verdict.schema.json");
