import { cpSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { nativeModuleProblem } from "@ujr/core/task";
import { tempDir } from "../__fixtures__/helpers.js";

const made: Array<{ cleanup: () => void }> = [];
function dir(): string {
  const t = tempDir();
  made.push(t);
  return t.dir;
}

/**
 * better-sqlite3 as an install whose script never ran leaves it (npm 11 without the
 * project's approval, or --ignore-scripts): its JavaScript and its `bindings` dependency,
 * no build/ folder. Its constructor then throws the driver's own error, as a user sees it.
 */
function driverWithoutItsBuild(): new (file: string) => unknown {
  const require = createRequire(import.meta.url);
  const driverDir = dirname(require.resolve("better-sqlite3/package.json"));
  const fromDriver = createRequire(join(driverDir, "package.json"));
  const modules = join(dir(), "node_modules");
  for (const [name, dir] of [
    ["better-sqlite3", driverDir],
    ["bindings", dirname(fromDriver.resolve("bindings/package.json"))],
    ["file-uri-to-path", dirname(createRequire(fromDriver.resolve("bindings")).resolve("file-uri-to-path/package.json"))],
  ] as const) {
    mkdirSync(join(modules, name), { recursive: true });
    cpSync(dir, join(modules, name), { recursive: true, dereference: true, filter: (src) => !src.startsWith(join(dir, "build")) && !src.startsWith(join(dir, "deps")) && !src.startsWith(join(dir, "src")) });
  }
  return createRequire(join(modules, "package.json"))("better-sqlite3");
}

describe("a SQLite driver whose native module was never built", () => {
  afterEach(() => {
    for (const t of made.splice(0)) t.cleanup();
    vi.doUnmock("better-sqlite3");
    vi.resetModules();
  });

  it("is named as such, with the command that builds it, instead of the paths the driver tried", () => {
    const Unbuilt = driverWithoutItsBuild();
    let thrown: unknown;
    try {
      new Unbuilt(join(dir(), "t.sqlite"));
    } catch (e) {
      thrown = e;
    }
    expect((thrown as Error).message).toMatch(/^Could not locate the bindings file/);
    expect(nativeModuleProblem(thrown)).toEqual({
      reason: expect.stringContaining("better-sqlite3's native module was never built (its install script did not run"),
      fix: expect.stringContaining("npm rebuild better-sqlite3"),
    });
  });

  it("stops the tidier's store with UJR_TIDY_SQLITE_DRIVER naming the database, the cause and the fix", async () => {
    const Unbuilt = driverWithoutItsBuild();
    vi.doMock("better-sqlite3", () => ({ default: Unbuilt }));
    const { SqliteTidyStore } = await import("./sqlite.js");
    const file = join(dir(), "tidy.sqlite");
    let thrown: unknown;
    try {
      new SqliteTidyStore(file);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toMatchObject({ code: "UJR_TIDY_SQLITE_DRIVER" });
    const message = (thrown as Error).message;
    expect(message).toContain(`cannot open SQLite database ${file}: better-sqlite3's native module was never built (its install script did not run`);
    expect(message).toContain("npm rebuild better-sqlite3");
    expect(message).toContain("npm install-scripts approve better-sqlite3");
    expect(message).not.toContain("Tried:");
  });

  it("names a module built for another Node.js or another machine, and leaves other errors alone", () => {
    // Node's own words when the ABI differs (process.dlopen, ERR_DLOPEN_FAILED)
    const otherNode = Object.assign(
      new Error(
        "The module '/x/node_modules/better-sqlite3/build/Release/better_sqlite3.node'\nwas compiled against a different Node.js version using\nNODE_MODULE_VERSION 127. This version of Node.js requires\nNODE_MODULE_VERSION 115. Please try re-compiling or re-installing\nthe module (for instance, using `npm rebuild` or `npm install`).",
      ),
      { code: "ERR_DLOPEN_FAILED" },
    );
    expect(nativeModuleProblem(otherNode)).toEqual({
      reason: `better-sqlite3's native module was built for another Node.js version than this one (${process.version})`,
      fix: "Rebuild it for this Node.js in the folder where it is installed: npm rebuild better-sqlite3.",
    });
    // a real dlopen of a file that is not a shared library
    const notElf = join(dir(), "better_sqlite3.node");
    cpSync(new URL(import.meta.url), notElf);
    let thrown: unknown;
    try {
      process.dlopen({ exports: {} } as NodeJS.Module, notElf);
    } catch (e) {
      thrown = e;
    }
    expect(nativeModuleProblem(thrown)?.reason).toMatch(/^better-sqlite3's native module cannot be loaded on this machine \(.*\): it was likely built on another system/);
    // a plain object, as an error that crossed a worker boundary arrives
    expect(nativeModuleProblem({ message: "Could not locate the bindings file. Tried:\n → /x" })?.fix).toContain("npm rebuild better-sqlite3");
    expect(nativeModuleProblem(new Error("SQLITE_CANTOPEN: unable to open database file"))).toBeUndefined();
    expect(nativeModuleProblem(undefined)).toBeUndefined();
  });
});
