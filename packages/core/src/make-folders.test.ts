import { afterEach, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeFolders, refusalReason, tryMakeFolders } from "./make-folders.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), "ujr-make-folders-"));
  dirs.push(dir);
  return dir;
}

describe("makeFolders", () => {
  it("makes the missing levels, outermost first, and makes nothing for a folder that exists", () => {
    const dir = scratch();
    const target = join(dir, "a", "b", "c");
    expect(makeFolders(target)).toEqual({ made: [join(dir, "a"), join(dir, "a", "b"), target] });
    expect(statSync(target).isDirectory()).toBe(true);
    expect(makeFolders(target)).toEqual({ made: [] });
  });

  it("refuses a file where the folder should be (EEXIST), in words that say it is not a folder", () => {
    const dir = scratch();
    const file = join(dir, "raw");
    writeFileSync(file, "x");
    const result = makeFolders(file);
    expect("refused" in result).toBe(true);
    if (!("refused" in result)) return;
    expect(result.refused).toMatchObject({ folder: file, parent: dir });
    expect(result.refused.error.code).toBe("EEXIST");
    expect(refusalReason(result.refused)).toBe(`already has ${file} there, which is not a folder (${result.refused.error.message})`);
  });

  it("names the target of a symbolic link to nothing where the folder should be", () => {
    const dir = scratch();
    const link = join(dir, "out");
    symlinkSync(join(dir, "gone"), link);
    const result = makeFolders(link);
    if (!("refused" in result)) throw new Error("a link to nothing was taken for a folder");
    expect(refusalReason(result.refused)).toContain(`which is a symbolic link to ${join(dir, "gone")}, which does not exist`);
  });

  it("refuses a file in the way above the folder (ENOTDIR) and leaves nothing it made behind", () => {
    const dir = scratch();
    writeFileSync(join(dir, "file"), "x");
    const result = makeFolders(join(dir, "file", "sub", "deeper"));
    if (!("refused" in result)) throw new Error("made folders under a file");
    expect(result.refused.error.code).toBe("ENOTDIR");
    expect(refusalReason(result.refused)).toMatch(/^is not a folder \(ENOTDIR/);
    expect(existsSync(join(dir, "file", "sub"))).toBe(false);
  });

  it("tryMakeFolders: a path that can be made is made and removed again, a folder that was there is left, a refusal is returned", () => {
    const dir = scratch();
    expect(tryMakeFolders(join(dir, "a", "b"))).toBeUndefined();
    expect(existsSync(join(dir, "a"))).toBe(false);
    expect(tryMakeFolders(dir)).toBeUndefined();
    expect(statSync(dir).isDirectory()).toBe(true);
    writeFileSync(join(dir, "file"), "x");
    expect(tryMakeFolders(join(dir, "file", "sub"))?.error.code).toBe("ENOTDIR");
  });
});
