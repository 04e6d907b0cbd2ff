import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgres, redactDatabaseUrl } from "./db/postgres.js";
import { createTestSchema, NO_POSTGRES, type TestSchema } from "./__fixtures__/postgres.js";

let pgdb: TestSchema | undefined;

beforeAll(async () => {
  pgdb = await createTestSchema("ujr_summary_test");
  if (!pgdb) return;
  const { admin, schema } = pgdb;
  await admin.query(`CREATE TABLE ${schema}.tweets (id text PRIMARY KEY, created_at timestamptz, lang text, directly_collected boolean NOT NULL)`);
  await admin.query(`INSERT INTO ${schema}.tweets VALUES ('1', '2024-05-01T10:00:00Z', 'en', true), ('2', '2024-05-01T11:30:00Z', 'en', true), ('3', '2024-05-02T09:00:00Z', 'de', true), ('4', '2024-05-02T09:00:00Z', 'fr', false)`);
});

afterAll(async () => {
  await pgdb?.drop();
});

const dbUrl = () => pgdb!.url;

describe("PostgreSQL (read-only connection)", () => {
  it("runs queries with named parameters and built-in SQL", async (ctx) => {
    if (!pgdb) return ctx.skip(NO_POSTGRES);
    const db = await openPostgres(dbUrl());
    try {
      const r = await db.query("SELECT count(*) AS n FROM tweets WHERE lang = :lang AND directly_collected", { lang: "en" }, { queryName: "q", timeoutMs: 5000, maxRows: 10 });
      expect(r).toEqual({ columns: ["n"], rows: [[2]], truncated: false });
      const { builtinQuery } = await import("./queries/builtin.js");
      const b = builtinQuery("tweets_over_time", "postgres", { interval: "day" });
      const days = await db.query(b.sql, { from: null, to: null, since: null, limit: 10 }, { queryName: "t", timeoutMs: 5000, maxRows: 10 });
      expect(days.rows).toEqual([["2024-05-01", 2], ["2024-05-02", 1]]);
      expect((await db.tables()).get("tweets")?.has("lang")).toBe(true);
    } finally {
      await db.close();
    }
  });

  it("refuses a write with a clear error and changes nothing, even after trying to switch the session to read-write", async (ctx) => {
    if (!pgdb) return ctx.skip(NO_POSTGRES);
    const db = await openPostgres(dbUrl());
    try {
      const opts = { queryName: "evil", timeoutMs: 5000, maxRows: 10 };
      await expect(db.query("DELETE FROM tweets", {}, opts)).rejects.toMatchObject({ code: "UJR_SUMMARY_READ_ONLY" });
      await expect(db.query("INSERT INTO tweets VALUES ('9', now(), 'en', true) RETURNING id", {}, opts)).rejects.toMatchObject({ code: "UJR_SUMMARY_READ_ONLY" });
      await db.query("SET default_transaction_read_only = off", {}, opts).catch(() => {});
      await expect(db.query("DELETE FROM tweets", {}, opts)).rejects.toMatchObject({ code: "UJR_SUMMARY_READ_ONLY" });
      await expect(db.query("SELECT 1; DELETE FROM tweets", {}, opts)).rejects.toBeTruthy();
      const n = await pgdb!.admin.query(`SELECT count(*)::int AS n FROM ${pgdb!.schema}.tweets`);
      expect(n.rows[0].n).toBe(4);
    } finally {
      await db.close();
    }
  });

  it("stops a query after its statement_timeout", async (ctx) => {
    if (!pgdb) return ctx.skip(NO_POSTGRES);
    const db = await openPostgres(dbUrl());
    try {
      await expect(db.query("SELECT pg_sleep(5)", {}, { queryName: "sleepy", timeoutMs: 200, maxRows: 1 })).rejects.toMatchObject({ code: "UJR_SUMMARY_QUERY_TIMEOUT" });
      // the connection is usable afterwards
      const r = await db.query("SELECT 1 AS one", {}, { queryName: "after", timeoutMs: 1000, maxRows: 1 });
      expect(r.rows).toEqual([[1]]);
    } finally {
      await db.close();
    }
  });

  it("never shows the password of the database URL", () => {
    expect(redactDatabaseUrl("postgres://me:hunter2@db.example:5432/x?sslmode=require")).toBe("postgres://me@db.example:5432/x");
  });
});
