/**
 * Crash suite: the tidier on PostgreSQL, run through `ujr run` as a user runs it, killed
 * with SIGKILL at random points (keyed to its log lines, moved a few event-loop turns off
 * them), restarted, and finally run to the end. Every table must then hold exactly the
 * rows of an uninterrupted run of the same files: nothing lost, nothing twice.
 *
 * Bounded for CI: UJR_CRASH_TRIALS kills (default 3), the seed printed (UJR_CRASH_SEED
 * repeats a run). Needs PostgreSQL (PGURL, default postgres://postgres@127.0.0.1:5432/test).
 */
import { afterAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { crashProject, prng, startUjr, turns } from "./__fixtures__/crash-project.js";

const PGURL = process.env.PGURL ?? "postgres://postgres@127.0.0.1:5432/test";
const TRIALS = Number(process.env.UJR_CRASH_TRIALS ?? 3);
const FILES = Number(process.env.UJR_CRASH_FILES ?? 16);
const SEED = Number(process.env.UJR_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const fixtures = fileURLToPath(new URL("../../../fixtures/twitter/", import.meta.url));

const schemas: string[] = [];
const client = new pg.Client({ connectionString: PGURL });
let connected: Promise<void> | undefined;
async function db(): Promise<pg.Client> {
  connected ??= client.connect().then(() => undefined);
  await connected;
  return client;
}
afterAll(async () => {
  if (!connected) return;
  for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
});

/** Row count of every table of a schema, and the content hashes of its loaded files. */
async function contents(schema: string): Promise<{ counts: Record<string, number>; files: string[]; statuses: Record<string, number> }> {
  const c = await db();
  const tables = await c.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations' ORDER BY 1",
    [schema],
  );
  const counts: Record<string, number> = {};
  for (const { table_name } of tables.rows) counts[table_name] = Number((await c.query(`SELECT count(*) AS n FROM "${schema}"."${table_name}"`)).rows[0].n);
  const files = (await c.query<{ sha256: string }>(`SELECT sha256 FROM "${schema}".source_files ORDER BY 1`)).rows.map((r) => r.sha256);
  const statuses: Record<string, number> = {};
  for (const row of (await c.query<{ status: string; n: string }>(`SELECT status, count(*) AS n FROM "${schema}".source_files GROUP BY 1`)).rows) statuses[row.status] = Number(row.n);
  return { counts, files, statuses };
}

/** FILES raw files of 2 real twarc2 pages each, every file a different pair (so different content). */
function writeInputs(write: (name: string, text: string) => string, random: () => number): void {
  const pages: string[] = [];
  for (const name of readdirSync(fixtures).filter((n) => n.endsWith(".jsonl")).sort()) {
    for (const line of readFileSync(`${fixtures}${name}`, "utf8").split("\n")) if (line.trim()) pages.push(line);
  }
  const pairs = new Set<string>();
  while (pairs.size < FILES) {
    const a = Math.floor(random() * pages.length);
    const b = Math.floor(random() * pages.length);
    if (a !== b) pairs.add(`${Math.min(a, b)},${Math.max(a, b)}`);
  }
  let k = 0;
  for (const pair of pairs) {
    const [a, b] = pair.split(",").map(Number) as [number, number];
    write(`raw/${String(k++).padStart(3, "0")}.jsonl`, `${pages[a]}\n${pages[b]}\n`);
  }
}

function config(schema: string): string {
  return `runner:\n  workers: 2\n  shutdownGrace: 5s\njobs:\n  tidy:\n    plugin: "@ujr/plugin-tweet-tidier"\n    type: tidy\n    config:\n      inputs: ["./raw"]\n      database: ${PGURL}?schema=${schema}\n      mode: once\n      settleTime: 0s\n      parallel: 2\n`;
}

describe("crash suite: the tidier on PostgreSQL, killed with SIGKILL and restarted", () => {
  it(`ends with every row once (${TRIALS} kills, seed ${SEED})`, async () => {
    console.log(`crash suite (tidier, PostgreSQL): seed ${SEED}, ${TRIALS} kills, ${FILES} files; repeat with UJR_CRASH_SEED=${SEED}`);
    const random = prng(SEED);
    const id = randomBytes(4).toString("hex");
    const project = crashProject(["plugin-tweet-tidier"]);
    try {
      writeInputs(project.write, random);

      // The reference: one uninterrupted run into its own schema.
      const reference = `ujr_crash_ref_${id}`;
      schemas.push(reference);
      project.write("reference.yaml", config(reference));
      const clean = startUjr(["run", "reference.yaml", "--no-watch", "--no-tty"], project.dir);
      const cleanEnd = await clean.exited;
      expect(cleanEnd.code, cleanEnd.output).toBe(0);
      const lineCount = clean.lines.length;
      const expected = await contents(reference);
      expect(expected.files).toHaveLength(FILES);

      const schema = `ujr_crash_${id}`;
      schemas.push(schema);
      project.write("ujr.config.yaml", config(schema));
      let kills = 0;
      for (let trial = 0; trial < TRIALS; trial++) {
        const run = startUjr(["run", "--no-watch", "--no-tty"], project.dir);
        // A point of the run: after one of its log lines (a file started, loaded, the check...), a few turns later.
        // Later runs have less left to do: aim within what is left, roughly.
        const at = 1 + Math.floor(random() * lineCount * (1 - trial / (TRIALS + 1)));
        if (await run.afterLines(at)) {
          await turns(Math.floor(random() * 4));
          run.child.kill("SIGKILL");
          kills++;
        }
        await run.exited;
      }
      const last = startUjr(["run", "--no-watch", "--no-tty"], project.dir);
      const end = await last.exited;
      expect(end.code, end.output).toBe(0);

      const got = await contents(schema);
      expect(got.files).toEqual(expected.files);
      expect(got.statuses).toEqual(expected.statuses);
      expect(got.counts).toEqual(expected.counts);
      console.log(`crash suite (tidier, PostgreSQL): ${kills} SIGKILLs over ${TRIALS} trials; lost rows 0, duplicated rows 0 (${Object.keys(got.counts).length} tables, ${Object.values(got.counts).reduce((a, b) => a + b, 0)} rows)`);
    } finally {
      project.cleanup();
    }
  }, 60_000 + TRIALS * 20_000);
});
