// `triage formats check FILE`, run as a user runs it: per record the claiming format, the alert, and why every
// format tried before it declined; a user mapping from TRIAGE_FORMATS_DIR takes part; a broken one exits 2.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cliEnv, runCli } from "../../../support/cli.js";
import { vendorCases } from "../../../support/vendor-fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "triage-check-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("triage formats check", () => {
  it("prints the format, the alert and the reasons the others declined", async () => {
    const zeek = vendorCases.find((c) => c.format === "zeek-notice")!;
    const okta = vendorCases.find((c) => c.format === "okta" && "code" in c)!;
    const input = join(dir, "records.ndjson");
    writeFileSync(input, [zeek.text, okta.text, '{"kind":"acme.detection","det":{"title":"Reverse shell"}}', '{"heartbeat":1}', "not json"].join("\n"));
    const formats = join(dir, "formats");
    mkdirSync(formats);
    writeFileSync(
      join(formats, "acme.yaml"),
      "name: acme\ndescription: Acme\norder: 450\ndetect: { path: kind, equals: acme.detection }\nalert: { name: det.title }\n",
    );

    const run = await runCli(["formats", "check", input], { env: cliEnv({ TRIAGE_FORMATS_DIR: formats }), timeoutMs: 90_000 });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const blocks = run.stdout.split(/^(?=record \d+)/m);
    expect(blocks[0]).toMatch(/^record 1: format zeek-notice\n {2}→ alert sha256:[0-9a-f]{32}\n {4}alert_name {5}"SSH::Password_Guessing"/);
    expect(blocks[0]).toMatch(/\n {4}source_ip {6}"172\.16\.238\.1"\n/);
    expect(blocks[0]).toMatch(/\n {4}wazuh\s+rule is object, got nothing\n/);
    expect(blocks[1]).toMatch(/^record 2: format okta\n {2}→ not_an_alert: okta: Okta user\.session\.start \(INFO, outcome SUCCESS\) is an audit event/);
    expect(blocks[2]).toMatch(/^record 3: format acme\n/);
    expect(blocks[3]).toMatch(/^record 4: no format matched\n {2}→ unknown_format: /);
    expect(blocks[3]).toMatch(/\n {4}generic\s+no text field named like an alert/);
    expect(blocks[4]).toMatch(/^record 5: not decoded: invalid_json: /);

    const json = await runCli(["formats", "check", "--json", input], { env: cliEnv({ TRIAGE_FORMATS_DIR: formats }), timeoutMs: 90_000 });
    const first = JSON.parse(json.stdout.split("\n")[0]!) as {
      record: number;
      format: string;
      result: { ok: boolean; value: { alert_name: string } };
      declined: { format: string }[];
    };
    expect(first).toMatchObject({ record: 1, format: "zeek-notice", result: { ok: true, value: { alert_name: "SSH::Password_Guessing" } } });
    expect(first.declined.map((d) => d.format)).toContain("native");
  }, 120_000);

  it("exits 2 naming the file and key of a broken mapping", async () => {
    const bad = mkdtempSync(join(dir, "bad-"));
    writeFileSync(
      join(bad, "broken.yaml"),
      "name: broken\ndescription: d\norder: 1\ndetect: { has: a }\nalert: { name: a, severity: { from: [{ path: s }] } }\n",
    );
    const run = await runCli(["formats", "check", "/dev/null"], { env: cliEnv({ TRIAGE_FORMATS_DIR: bad }), timeoutMs: 90_000 });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/broken\.yaml: alert\.severity\.from\.0: a severity source needs table, bands or words: true/);
  }, 120_000);
});
