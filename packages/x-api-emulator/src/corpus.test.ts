import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { fixturePages, fixturePath } from "./__fixtures__/fixtures.js";
import { isEmulatorError, loadCorpus, parseQuery, startEmulator } from "./index.js";

describe("corpus loading (facts from the fixtures README)", () => {
  it.each([
    ["timeline-observatoryteam.jsonl", 218, 381, 82],
    ["brexit.jsonl", 100, 155, 177],
    ["withheld.jsonl", 215, 284, 591],
  ])("%s: %i searchable tweets, %i distinct tweets, %i users", (file, data, tweets, users) => {
    const c = loadCorpus([fixturePath(file)]);
    expect(c.timeline.length).toBe(data);
    expect(c.tweets.size).toBe(tweets);
    expect(c.users.size).toBe(users);
  });

  it("reads filtered-stream output (data is one object) and skips the truncated line", () => {
    const c = loadCorpus([fixturePath("streaming_output_with_error.jsonl")]);
    expect(c.timeline.length).toBe(7);
    expect(c.skippedLines).toBe(1);
    expect(c.places.size).toBeGreaterThan(0);
  });

  it("accepts parsed pages and loads the bundled sample by default", () => {
    const c = loadCorpus(fixturePages("geo_tweets.jsonl"));
    expect(c.timeline.length).toBe(2);
    const sample = loadCorpus();
    expect(sample.timeline.length).toBe(326);
  });

  it("fails with a stable code and a useful message on a missing file", async () => {
    let caught: unknown;
    try {
      await startEmulator({ corpus: ["/nonexistent/corpus.jsonl"] });
    } catch (err) {
      caught = err;
    }
    expect(isEmulatorError(caught)).toBe(true);
    expect((caught as { code: string }).code).toBe("UJR_EMULATOR_CORPUS_READ");
  });
});

describe("query parser", () => {
  it("binds AND tighter than OR and understands negation, groups and phrases", () => {
    expect(parseQuery('a b OR -"c d" (e OR f)')).toEqual({
      kind: "or",
      children: [
        { kind: "and", children: [{ kind: "keyword", value: "a" }, { kind: "keyword", value: "b" }] },
        {
          kind: "and",
          children: [
            { kind: "not", child: { kind: "phrase", value: "c d" } },
            { kind: "or", children: [{ kind: "keyword", value: "e" }, { kind: "keyword", value: "f" }] },
          ],
        },
      ],
    });
    expect(parseQuery("-(#x OR from:y)")).toEqual({
      kind: "not",
      child: { kind: "or", children: [{ kind: "hashtag", value: "x" }, { kind: "op", name: "from", value: "y" }] },
    });
  });
  it("rejects what the API rejects", () => {
    expect(() => parseQuery("")).toThrow();
    expect(() => parseQuery("is:banana")).toThrow();
    expect(() => parseQuery("a OR")).toThrow();
  });
});

describe("CLI", () => {
  const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
  it("prints its URL and serves the sample corpus", async () => {
    if (!existsSync(bin)) throw new Error("dist/bin.js is missing: build the package first (tsc -b)");
    const child = spawn(process.execPath, [bin, "--port", "0", "--token", "cli-token"], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /^(http:\/\/\S+)\n/m.exec(out);
          if (m) resolve(m[1]!);
        });
        child.once("exit", (code) => reject(new Error(`exited ${code}`)));
      });
      const r = await fetch(`${url}/2/tweets/search/recent?query=brexit`, { headers: { authorization: "Bearer cli-token" } });
      expect(r.status).toBe(200);
      expect(((await r.json()) as { meta: { result_count: number } }).meta.result_count).toBe(10);
    } finally {
      child.kill("SIGTERM");
    }
  });
});
