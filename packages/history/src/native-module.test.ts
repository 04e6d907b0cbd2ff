import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it, vi } from "vitest";

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  vi.doUnmock("better-sqlite3");
  vi.resetModules();
});

it("says the SQLite driver's native module was never built, with the command that builds it, not that the folder is not writable", async () => {
  // better-sqlite3's own error when its install script never ran (the tidier's tests make it
  // for real from a copy of the driver without its build)
  const unbuilt = new Error(
    "Could not locate the bindings file. Tried:\n → /app/node_modules/better-sqlite3/build/better_sqlite3.node\n → /app/node_modules/better-sqlite3/build/Release/better_sqlite3.node",
  );
  vi.doMock("better-sqlite3", () => ({
    default: class {
      constructor() {
        throw unbuilt;
      }
    },
  }));
  const { HistoryStore } = await import("./history-store.js");
  dir = mkdtempSync(join(tmpdir(), "ujr-history-native-"));
  const file = join(dir, "_history.sqlite");
  let thrown: unknown;
  try {
    HistoryStore.open({ file });
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toMatchObject({ code: "UJR_HISTORY_DRIVER_UNAVAILABLE" });
  const message = (thrown as Error).message;
  expect(message).toContain(`The run history ${file} could not be opened: better-sqlite3's native module was never built`);
  expect(message).toContain("npm rebuild better-sqlite3");
  expect(message).toContain("set runner.history: false");
  expect(message).not.toContain("writable");
  // what `ujr validate` asks, without creating the file
  const checked = (() => {
    try {
      HistoryStore.checkDriver(file);
    } catch (e) {
      return e;
    }
  })();
  expect(checked).toMatchObject({ code: "UJR_HISTORY_DRIVER_UNAVAILABLE", message });
  expect(existsSync(file)).toBe(false);
});
