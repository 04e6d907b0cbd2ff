import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { appendDurable, removeTemps, writeFileDurable } from "./index.js";

describe("durable files", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const folder = () => {
    const dir = mkdtempSync(join(tmpdir(), "ujr-durable-"));
    dirs.push(dir);
    return dir;
  };

  it("writeFileDurable creates the folder (and its parents) when missing", async () => {
    const dir = folder();
    const file = join(dir, "a", "b", "state.json");
    await writeFileDurable(file, "{}");
    expect(readFileSync(file, "utf8")).toBe("{}");
    expect(readdirSync(join(dir, "a", "b"))).toEqual(["state.json"]);
  });

  it("writeFileDurable replaces a file whole and leaves no temp file behind", async () => {
    const dir = folder();
    const file = join(dir, "state.json");
    writeFileSync(file, "old");
    await writeFileDurable(file, '{"n":1}', "state");
    expect(readFileSync(file, "utf8")).toBe('{"n":1}');
    expect(readdirSync(dir)).toEqual(["state.json"]);
  });

  it("writeFileDurable removes its temp file when the write fails, and throws the cause", async () => {
    const dir = folder();
    const target = join(dir, "taken");
    mkdirSync(join(target, "inside"), { recursive: true }); // a non-empty folder: the rename fails
    await expect(writeFileDurable(target, "data", "page")).rejects.toMatchObject({ code: expect.stringMatching(/^(EISDIR|ENOTEMPTY|EEXIST|EPERM)$/) });
    expect(readdirSync(dir)).toEqual(["taken"]);
  });

  it("removeTemps removes the temp files a crashed writer of that kind left, and nothing else", async () => {
    const dir = folder();
    writeFileSync(join(dir, ".tmp-state-state.json-123-abcd"), "half");
    writeFileSync(join(dir, ".tmp-page-p1.jsonl-123-abcd"), "half");
    writeFileSync(join(dir, "state.json"), "whole");
    expect(await removeTemps(dir, "state")).toBe(1);
    expect(readdirSync(dir).sort()).toEqual([".tmp-page-p1.jsonl-123-abcd", "state.json"]);
    expect(await removeTemps(join(dir, "missing"), "state")).toBe(0);
  });

  it("appendDurable appends", async () => {
    const file = join(folder(), "log.jsonl");
    await appendDurable(file, "a\n");
    await appendDurable(file, "b\n");
    expect(readFileSync(file, "utf8")).toBe("a\nb\n");
  });
});
