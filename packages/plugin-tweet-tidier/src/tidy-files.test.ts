import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { capturingLogger } from "@ujr/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import { fixture, tempDir } from "./__fixtures__/helpers.js";
import { tidyFiles } from "./tidy-files.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe("tidyFiles: inputs whose names are not read", () => {
  it("nothing else to load: UJR_TIDY_NO_INPUT names the files passed over and what to do", async () => {
    const dir = join(tmp.dir, "only-json");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "search.json"), readFileSync(fixture("brexit.jsonl")));
    const err = await tidyFiles({ database: join(tmp.dir, "only-json.sqlite"), files: [dir] }).then(
      () => expect.unreachable("no file to load: it throws"),
      (e: unknown) => e as { code: string; message: string },
    );
    expect(err).toMatchObject({ code: "UJR_TIDY_NO_INPUT" });
    expect(err.message).toContain(`nothing matched ${JSON.stringify([dir])} (1 file(s) not read for their names: ${join(dir, "search.json")}: `);
    expect(err.message).toContain("rename it .jsonl, or name the file itself in `inputs`");
  });

  it("beside files it loads: one warning with the code, and the file named in the inputs loads", async () => {
    const dir = join(tmp.dir, "mixed");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "search.json"), readFileSync(fixture("brexit.jsonl")));
    writeFileSync(join(dir, "two.jsonl"), readFileSync(fixture("two_tweets.jsonl")));
    const { logger, logs } = capturingLogger("info");
    const loaded = await tidyFiles({ database: join(tmp.dir, "mixed.sqlite"), files: [dir], logger });
    expect(loaded.map((r) => r.path)).toEqual([join(dir, "two.jsonl")]);
    expect(logs.filter((l) => l.code === "UJR_TIDY_NAME_NOT_READ").map((l) => l.msg)).toEqual([
      expect.stringContaining(`tidy: 1 file(s) not read for their names: ${join(dir, "search.json")}: `),
    ]);
    const named = await tidyFiles({ database: join(tmp.dir, "mixed.sqlite"), files: [dir, join(dir, "search.json")] });
    expect(named.find((r) => r.path === join(dir, "search.json"))).toMatchObject({ status: "loaded", errors: 0 });
  });
});

describe("tidyFiles: inputs that do not exist", () => {
  it("names them: in UJR_TIDY_NO_INPUT when nothing else matched, in a warning beside files it loads", async () => {
    const dir = join(tmp.dir, "absent");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "two.jsonl"), readFileSync(fixture("two_tweets.jsonl")));
    const err = await tidyFiles({ database: join(tmp.dir, "absent.sqlite"), files: ["nowhere/"], baseDir: dir }).then(
      () => expect.unreachable("no file to load: it throws"),
      (e: unknown) => e as { code: string; message: string },
    );
    expect(err).toMatchObject({ code: "UJR_TIDY_NO_INPUT", message: expect.stringContaining('nothing matched ["nowhere/"] ("nowhere/" does not exist)') });
    const { logger, logs } = capturingLogger("info");
    const loaded = await tidyFiles({ database: join(tmp.dir, "absent.sqlite"), files: ["two.jsonl", "nowhere/"], baseDir: dir, logger });
    expect(loaded.map((r) => r.status)).toEqual(["loaded"]);
    expect(logs.filter((l) => l.code === "UJR_TIDY_INPUT_MISSING").map((l) => l.msg)).toEqual(['tidy: "nowhere/" does not exist']);
  });
});

describe("tidyFiles: what cannot be read", () => {
  it("fails with UJR_TIDY_INPUT_UNREADABLE before loading anything, naming it (a link named as a raw file that leads nowhere)", async () => {
    const dir = join(tmp.dir, "dangling");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "two.jsonl"), readFileSync(fixture("two_tweets.jsonl")));
    symlinkSync(join(dir, "moved-away.jsonl"), join(dir, "three.jsonl"));
    const database = join(tmp.dir, "dangling.sqlite");
    const err = await tidyFiles({ database, files: [dir] }).then(
      () => expect.unreachable("a link that leads nowhere: it throws"),
      (e: unknown) => e as { code: string; message: string },
    );
    expect(err).toMatchObject({ code: "UJR_TIDY_INPUT_UNREADABLE" });
    expect(err.message).toContain(`1 input(s), folder(s) or link(s) cannot be read (link ${join(dir, "three.jsonl")}: a symbolic link to ${join(dir, "moved-away.jsonl")}, which does not exist)`);
    expect(existsSync(database)).toBe(false);
  });
});
