// The published vendor records of test/fixtures/vendors (see test/fixtures/SOURCES.md) with their hand-checked
// expectations: either the alert an analyst reads off the record, or the code it is refused with.
import { readFileSync } from "node:fs";
import type { Alert } from "../../src/core/alert.js";

export type ExpectedAlert = Pick<Alert, "alert_name" | "severity" | "source_ip" | "destination_ip" | "user" | "host" | "timestamp"> & {
  alert_id: string | null;
};
export type VendorCase = { file: string; line: number; text: string; record: Record<string, unknown>; format: string } & (
  | { alert: ExpectedAlert }
  | { code: string }
);

const dir = new URL("../fixtures/vendors/", import.meta.url);
const expected = JSON.parse(readFileSync(new URL("expected.json", dir), "utf8")) as Record<
  string,
  { format: string; records: (ExpectedAlert | { code: string })[] }
>;

/** Every vendor fixture record, in file order. */
export const vendorCases: VendorCase[] = Object.entries(expected).flatMap(([file, { format, records }]) => {
  const lines = readFileSync(new URL(`${file}.ndjson`, dir), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "");
  if (lines.length !== records.length) throw new Error(`${file}.ndjson has ${lines.length} records, expected.json ${records.length}`);
  return lines.map((text, i) => {
    const want = records[i]!;
    const base = { file, line: i + 1, text, record: JSON.parse(text) as Record<string, unknown>, format };
    return "code" in want ? { ...base, code: want.code } : { ...base, alert: want };
  });
});
