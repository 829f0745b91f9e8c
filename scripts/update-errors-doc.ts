// Regenerates ERRORS.md from the error-code catalogue in src/core/error-codes.ts (npm run docs:errors).
import { writeFileSync } from "node:fs";
import { renderErrorsMarkdown } from "../src/core/error-codes.js";

writeFileSync(new URL("../ERRORS.md", import.meta.url), renderErrorsMarkdown());
console.error("ERRORS.md updated");
