import { optionalStr } from "./options.js";

/** Input formats: mapping files that add to (or replace) the built-in ones in config/formats/. */
export const formatsOptions = {
  TRIAGE_FORMATS_DIR: optionalStr(
    'Directory of extra input-format mappings (`*.yaml`, see README "Input formats"), merged with the built-ins at start; a mapping named like a ' +
      "built-in replaces it. Any invalid mapping stops the start with the file and key named. Unset: built-ins only.",
  ),
} as const;
