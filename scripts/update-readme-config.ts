// Regenerates the configuration table in README.md from the zod schema (npm run docs:config).
import { readFileSync, writeFileSync } from "node:fs";
import { configTable } from "../src/config/docs.js";

const path = new URL("../README.md", import.meta.url);
const readme = readFileSync(path, "utf8");
const start = "<!-- config:start -->";
const end = "<!-- config:end -->";
const a = readme.indexOf(start);
const b = readme.indexOf(end);
if (a < 0 || b < a) throw new Error("README.md lacks the config markers");
writeFileSync(path, `${readme.slice(0, a + start.length)}\n${configTable()}\n${readme.slice(b)}`);
console.error("README.md config table updated");
