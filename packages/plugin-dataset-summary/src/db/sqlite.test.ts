import { describe, expect, it } from "vitest";
import { mapSqliteError } from "./sqlite.js";

describe("a failed SQLite query, as the user reads it", () => {
  it("names a driver whose native module was never built, and the command that builds it", () => {
    // what the query thread posts when better-sqlite3's install script never ran
    const error = mapSqliteError(
      { ok: false, kind: "error", message: "Could not locate the bindings file. Tried:\n → /app/node_modules/better-sqlite3/build/better_sqlite3.node" },
      "top_hashtags",
    );
    expect(error).toMatchObject({ code: "UJR_SUMMARY_DB_OPEN" });
    expect(error.message).toContain("the database could not be opened: better-sqlite3's native module was never built");
    expect(error.message).toContain("npm rebuild better-sqlite3");
    expect(error.message).not.toContain("Tried:");
  });

  it("keeps its other causes apart", () => {
    expect(mapSqliteError({ ok: false, kind: "readonly", message: "attempt to write a readonly database" }, "q")).toMatchObject({ code: "UJR_SUMMARY_READ_ONLY" });
    expect(mapSqliteError({ ok: false, kind: "error", code: "SQLITE_NOTADB", message: "file is not a database" }, "q")).toMatchObject({ code: "UJR_SUMMARY_DB_OPEN" });
    expect(mapSqliteError({ ok: false, kind: "error", message: "no such table: tweets" }, "q").message).toBe('query "q" failed: no such table: tweets');
  });
});
