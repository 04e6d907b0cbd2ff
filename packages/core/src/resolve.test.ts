import { afterEach, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { resolveTaskModule, splitPackageSpecifier } from "./resolve.js";

let dir: string | undefined;
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

function project(exports: Record<string, string>): string {
  dir = mkdtempSync(join(tmpdir(), "ujr-resolve-"));
  const pkg = join(dir, "node_modules", "@acme", "plugin");
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "@acme/plugin", type: "module", exports }));
  writeFileSync(join(pkg, "index.js"), "export {};\n");
  writeFileSync(join(pkg, "tasks.js"), "export {};\n");
  return `${pathToFileURL(dir).href}/`;
}

describe("resolveTaskModule", () => {
  it("resolves an exported subpath from the folder that installed it", () => {
    const from = project({ ".": "./index.js", "./tasks": "./tasks.js" });
    expect(resolveTaskModule("@acme/plugin/tasks", [from])).toBe(`${from}node_modules/@acme/plugin/tasks.js`);
  });

  it("a package that does not export the subpath: the real cause (ERR_PACKAGE_PATH_NOT_EXPORTED) and the fix", () => {
    const from = project({ ".": "./index.js" });
    expect(() => resolveTaskModule("@acme/plugin/tasks", [from])).toThrow(
      expect.objectContaining({
        code: "UJR_TASK_MODULE_NOT_EXPORTED",
        message: `Task module "@acme/plugin/tasks" cannot be imported: package "@acme/plugin" (${dir}/node_modules/@acme/plugin/package.json) is installed, but its "exports" has no "./tasks" (ERR_PACKAGE_PATH_NOT_EXPORTED). Add it to the package's exports, e.g. "exports": { ".": "./dist/index.js", "./tasks": "./dist/tasks.js" }, rebuild and reinstall the plugin.`,
      }),
    );
  });

  it("a package that is not installed: where it looked", () => {
    const from = project({ ".": "./index.js" });
    expect(() => resolveTaskModule("@acme/other/tasks", [from])).toThrow(
      expect.objectContaining({ code: "UJR_TASK_MODULE_NOT_FOUND", message: expect.stringContaining(`could not be resolved from ${dir}/.`) }),
    );
  });

  it("splits package specifiers", () => {
    expect(splitPackageSpecifier("@a/b/c/d")).toEqual({ name: "@a/b", subpath: "./c/d" });
    expect(splitPackageSpecifier("pkg")).toEqual({ name: "pkg", subpath: "." });
  });
});
