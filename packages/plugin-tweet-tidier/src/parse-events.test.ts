import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fixture, tempDir } from "./__fixtures__/helpers.js";
import { makeTarGz } from "./__fixtures__/tar.js";
import { parseEvents, type ParseEvent } from "./parse-events.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

async function events(path: string, skipMember?: (entry: string, sha256: string) => boolean): Promise<ParseEvent[]> {
  const out: ParseEvent[] = [];
  for await (const ev of parseEvents(path, 1, undefined, skipMember)) out.push(ev);
  return out;
}

describe("parseEvents: archive members", () => {
  it("announces each member with its bytes' hash; a member passed over comes unparsed, line for line, in the same numbering", async () => {
    const page = readFileSync(fixture("two_tweets.jsonl"), "utf8").trimEnd();
    const tgz = join(tmp.dir, "a.tar.gz");
    const first = Buffer.from(`${page}\n{"truncated": \n`);
    writeFileSync(tgz, await makeTarGz([{ name: "raw/1.jsonl", data: first }, { name: "raw/2.jsonl", data: Buffer.from(`${page}\n`) }]));
    const parsed = await events(tgz);
    expect(parsed.map((e) => [e.t, e.entry, e.index])).toEqual([
      ["member", "raw/1.jsonl", 0],
      ["page", "raw/1.jsonl", 1],
      ["error", "raw/1.jsonl", 2],
      ["member", "raw/2.jsonl", 3],
      ["page", "raw/2.jsonl", 4],
    ]);
    expect(parsed[0]).toMatchObject({ sha256: (await import("node:crypto")).createHash("sha256").update(first).digest("hex"), size: first.length });
    // the first member passed over: its lines are not parsed (no error for its bad line), and the numbering is the same
    const asked: string[] = [];
    const passed = await events(tgz, (entry) => (asked.push(entry), entry === "raw/1.jsonl"));
    expect(asked).toEqual(["raw/1.jsonl", "raw/2.jsonl"]);
    expect(passed.map((e) => [e.t, e.entry, e.index, e.lineNo])).toEqual([
      ["member", "raw/1.jsonl", 0, 0],
      ["skipped", "raw/1.jsonl", 1, 1],
      ["skipped", "raw/1.jsonl", 2, 2],
      ["member", "raw/2.jsonl", 3, 0],
      ["page", "raw/2.jsonl", 4, 1],
    ]);
  });
});
