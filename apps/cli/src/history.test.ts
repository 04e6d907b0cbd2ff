import { afterEach, describe, expect, it } from "vitest";
import { cli } from "./__fixtures__/in-process-cli.js";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { HistoryStore } from "@ujr/history";
import { projectOutsideWorkspace } from "../../../packages/runner-local/src/__fixtures__/workspace.js";
import { skipOutsideCI } from "../../../packages/runner-local/src/__fixtures__/processes.js";

let project: ReturnType<typeof projectOutsideWorkspace>;
afterEach(() => project?.cleanup());


const config = (runner: string) =>
  `runner:\n  workers: 1\n  isolation: thread\n  logLevel: silent\n${runner}jobs:\n  lines:\n    plugin: "@acme/ujr-plugin-fixture"\n    type: count\n    config: { count: 3, label: a }\n`;

describe("ujr history", () => {
  it("shows the runs of earlier `ujr run`s, one line each, as a per-job summary, and as JSON", async () => {
    project = projectOutsideWorkspace();
    const file = project.write("ujr.config.yaml", config(""));
    expect((await cli(["run", file, "--no-tty"])).code).toBe(0);
    expect(existsSync(join(project.dir, "data", "_history.sqlite"))).toBe(true);
    expect((await cli(["run", file, "--no-tty"])).code).toBe(0);

    const lines = await cli(["history", file]);
    expect(lines.code).toBe(0);
    const rows = lines.out.split("\n");
    expect(rows).toHaveLength(6);
    for (const row of rows) expect(row).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}lines {2}done +\d+(ms|\.\ds) {2}\[\d\]$/);

    const summary = await cli(["history", file, "--summary"]);
    expect(summary.out).toMatch(/^lines: 6 runs, 6 done, 0 failed; last success \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ; no failure$/);

    const json = JSON.parse((await cli(["history", file, "--json", "--job", "lines", "--limit", "2"])).out) as { runs: Array<Record<string, unknown>> };
    expect(json.runs).toHaveLength(2);
    expect(json.runs[0]).toMatchObject({ job: "lines", plugin: "@acme/ujr-plugin-fixture", jobType: "count", outcome: "done", attempt: 1 });

    expect((await cli(["history", file, "--failed"])).out).toBe("No failed runs recorded (for these filters).");
    expect((await cli(["history", file, "--since", "2099-01-01"])).out).toBe("No runs recorded (for these filters).");
    expect((await cli(["history", file, "--since", "1h"])).out.split("\n")).toHaveLength(6);
    // Reading needs only the runner section: not the jobs' plugins, not their secrets.
    const other = project.write("other.yaml", `jobs:\n  x:\n    plugin: "@acme/not-installed"\n    type: t\n    config: { token: "\${UJR_TEST_UNSET_TOKEN}" }\n`);
    expect((await cli(["history", other, "--summary"])).out).toMatch(/^lines: 6 runs/);
    // The history file itself can be read too.
    expect((await cli(["history", join(project.dir, "data", "_history.sqlite"), "--summary"])).out).toMatch(/^lines: 6 runs/);
  }, 60_000);

  it("lists runs in the order they began, the time each line shows, not the order they ended", async () => {
    project = projectOutsideWorkspace();
    const file = join(project.dir, "runs.sqlite");
    const t = Date.UTC(2026, 0, 1, 12);
    const store = HistoryStore.open({ file, now: () => t + 60_000 });
    // Recorded (and batched) in the order they ended, as a runner writes them: b, which began
    // before c, ended after it, and "long", which began before both, ended last.
    for (const [signature, startedAt, endedAt] of [["a", 0, 1000], ["c", 20_000, 21_000], ["b", 10_000, 30_000], ["long", 5000, 40_000]] as const) {
      store.recordRun({ runId: signature, attempt: 1, job: "j", task: "m#t", signature, outcome: "done", startedAt: t + startedAt, endedAt: t + endedAt, durationMs: endedAt - startedAt });
      await store.settled();
    }
    await store.close();
    const { code, out } = await cli(["history", file]);
    expect(code).toBe(0);
    expect(out.split("\n")).toEqual([
      "2026-01-01 12:00:00Z  j  done            1.0s  [a]",
      "2026-01-01 12:00:05Z  j  done           35.0s  [long]",
      "2026-01-01 12:00:10Z  j  done           20.0s  [b]",
      "2026-01-01 12:00:20Z  j  done            1.0s  [c]",
    ]);
    // --limit keeps the runs that began last (b and c), not the ones that ended last (b and long).
    expect((await cli(["history", file, "--limit", "2"])).out).toMatch(/^.*\[b\]\n.*\[c\]$/);
  });

  it("says what to do when nothing was recorded, history is off, or a flag is wrong", async () => {
    project = projectOutsideWorkspace();
    const file = project.write("ujr.config.yaml", config(""));
    const none = await cli(["history", file]);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/UJR_HISTORY_NOT_FOUND\nNo run history at .*_history\.sqlite: nothing has run with this config yet.*Run `ujr run .*ujr\.config\.yaml` first/);

    const off = project.write("off.yaml", config("  history: false\n"));
    const offResult = await cli(["history", off]);
    expect(offResult.code).toBe(2);
    expect(offResult.err).toMatch(/sets runner\.history: false, so nothing is recorded/);

    const since = await cli(["history", file, "--since", "yesterday"]);
    expect(since.code).toBe(2);
    expect(since.err).toMatch(/--since must be a duration such as 30m, 2h or 7d, or a date/);
  });

  it("keeps the history where runner.history.file says, with no file at all when history is off", async () => {
    project = projectOutsideWorkspace();
    const file = project.write("ujr.config.yaml", config("  history:\n    file: ./state/runs.sqlite\n    retention: { days: 7, runs: 2 }\n"));
    expect((await cli(["run", file, "--no-tty"])).code).toBe(0);
    expect(existsSync(join(project.dir, "state", "runs.sqlite"))).toBe(true);
    const kept = JSON.parse((await cli(["history", file, "--json"])).out) as { runs: unknown[] };
    // Retention by count: the newest two of the three runs.
    expect(kept.runs).toHaveLength(2);

    const off = project.write("off.yaml", config("  history: false\n  dataDir: ./off-data\n"));
    expect((await cli(["run", off, "--no-tty"])).code).toBe(0);
    expect(existsSync(join(project.dir, "off-data", "_history.sqlite"))).toBe(false);
  }, 60_000);

  it("with runner.history.url, keeps the history in PostgreSQL and reads it from the config or the URL", async (context) => {
    const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
    const pg = (await import("pg")).default;
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
    } catch (error) {
      return skipOutsideCI(`PostgreSQL does not answer at ${url}: ${(error as Error).message} (start it or set DATABASE_URL)`, context.skip);
    }
    const schema = `ujr_cli_history_${randomBytes(4).toString("hex")}`;
    try {
      project = projectOutsideWorkspace();
      const file = project.write("ujr.config.yaml", config(`  history:\n    url: ${url}\n    schema: ${schema}\n`));
      expect((await cli(["run", file, "--no-tty"])).code).toBe(0);
      expect(existsSync(join(project.dir, "data", "_history.sqlite"))).toBe(false);
      expect((await cli(["history", file, "--summary"])).out).toMatch(/^lines: 3 runs, 3 done, 0 failed/);
      const byUrl = await cli(["history", url, "--schema", schema, "--json"]);
      expect((JSON.parse(byUrl.out) as { runs: unknown[] }).runs).toHaveLength(3);
    } finally {
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    }
  }, 60_000);
});
