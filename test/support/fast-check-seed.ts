// Property tests explore new inputs on every local run; in CI (CI=true) they use a fixed seed so a submission's
// result does not depend on luck. FC_SEED overrides either way (to replay a counterexample).
import fc from "fast-check";

const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : process.env.CI ? 20261123 : undefined;
if (seed !== undefined) fc.configureGlobal({ seed });
