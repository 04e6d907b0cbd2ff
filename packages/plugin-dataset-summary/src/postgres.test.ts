import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgres, redactDatabaseUrl } from "./db/postgres.js";

const URL_ = process.env.UJR_TEST_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test";
const schema = `ujr_summary_test_${process.pid}_${Date.now()}`;
let admin: pg.Client | undefined;
let reachable = false;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: URL_, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
    reachable = true;
  } catch (err) {
    if (process.env.CI === "true") throw new Error(`PostgreSQL at ${URL_} is required under CI=true: ${(err as Error).message}`);
    admin = undefined;
    return;
  }
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.query(`CREATE TABLE ${schema}.tweets (id text PRIMARY KEY, created_at timestamptz, lang text, directly_collected boolean NOT NULL)`);
  await admin.query(`INSERT INTO ${schema}.tweets VALUES ('1', '2024-05-01T10:00:00Z', 'en', true), ('2', '2024-05-01T11:30:00Z', 'en', true), ('3', '2024-05-02T09:00:00Z', 'de', true), ('4', '2024-05-02T09:00:00Z', 'fr', false)`);
});

afterAll(async () => {
  if (admin) {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
});

const dbUrl = () => `${URL_}${URL_.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`;

describe("PostgreSQL (read-only connection)", () => {
  it("runs queries with named parameters and built-in SQL", async (ctx) => {
    if (!reachable) return ctx.skip();
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
    if (!reachable) return ctx.skip();
    const db = await openPostgres(dbUrl());
    try {
      const opts = { queryName: "evil", timeoutMs: 5000, maxRows: 10 };
      await expect(db.query("DELETE FROM tweets", {}, opts)).rejects.toMatchObject({ code: "UJR_SUMMARY_READ_ONLY" });
      await expect(db.query("INSERT INTO tweets VALUES ('9', now(), 'en', true) RETURNING id", {}, opts)).rejects.toMatchObject({ code: "UJR_SUMMARY_READ_ONLY" });
      await db.query("SET default_transaction_read_only = off", {}, opts).catch(() => {});
      await expect(db.query("DELETE FROM tweets", {}, opts)).rejects.toMatchObject({ code: "UJR_SUMMARY_READ_ONLY" });
      await expect(db.query("SELECT 1; DELETE FROM tweets", {}, opts)).rejects.toBeTruthy();
      const n = await admin!.query(`SELECT count(*)::int AS n FROM ${schema}.tweets`);
      expect(n.rows[0].n).toBe(4);
    } finally {
      await db.close();
    }
  });

  it("stops a query after its statement_timeout", async (ctx) => {
    if (!reachable) return ctx.skip();
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
