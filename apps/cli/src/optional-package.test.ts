import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isUjrError } from "@ujr/core";
import { findPackage, importOptional } from "./optional-package.js";

let temp: string | undefined;
afterEach(() => {
  if (temp) rmSync(temp, { recursive: true, force: true });
  temp = undefined;
});

describe("optional packages (ujr demo, ujr worker)", () => {
  it("are found beside the CLI when the working folder lacks them", () => {
    temp = realpathSync(mkdtempSync(join(tmpdir(), "ujr-optional-")));
    const url = findPackage("@ujr/demo", [temp]);
    expect(url).toBeDefined();
    expect(fileURLToPath(url!)).toMatch(/demo[/\\]dist[/\\]index\.js$/);
  });

  it("when absent, say which package, where they looked and the command that installs it (exit 2)", async () => {
    temp = realpathSync(mkdtempSync(join(tmpdir(), "ujr-optional-")));
    const missing = { name: "@ujr/not-installed-anywhere", purpose: "a test's missing package" };
    const error = await importOptional(missing, "demo", [temp]).catch((caught: unknown) => caught);
    expect(isUjrError(error, "UJR_CLI_PACKAGE_MISSING")).toBe(true);
    expect((error as { exitCode: number }).exitCode).toBe(2);
    const message = (error as Error).message;
    expect(message).toContain("`ujr demo` needs the package @ujr/not-installed-anywhere (a test's missing package), which is not installed.");
    expect(message).toContain(`looked in:  ${join(temp, "node_modules")}, `);
    expect(message).toContain(`install it: cd ${temp} && npm install @ujr/not-installed-anywhere`);
    expect(message).toContain("npm install --global @ujr/not-installed-anywhere");

    // The install command follows the folder's package manager.
    writeFileSync(join(temp, "pnpm-lock.yaml"), "lockfileVersion: '9.0'\n");
    const pnpm = await importOptional(missing, "worker", [temp]).catch((caught: unknown) => caught);
    expect((pnpm as Error).message).toContain(`install it: cd ${temp} && pnpm add @ujr/not-installed-anywhere`);
  });
});
