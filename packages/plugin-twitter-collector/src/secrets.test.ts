import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readdir, readFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { startEmulator, type Emulator } from "@ujr/x-api-emulator";
import { runJob } from "@ujr/core/testing";
import { captureLogger, searchJob, tempDir } from "./__fixtures__/helpers.js";

const SECRET = "sekret-Tok3n-9f8e7d6c5b4a";

let emulator: Emulator;
let tmp: { dir: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  tmp = await tempDir("ujr-collector-secrets-");
});
afterEach(async () => {
  await emulator.close();
  await tmp.cleanup();
});

async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await allFiles(path)));
    else out.push(path);
  }
  return out;
}

describe("the bearer token", () => {
  it("never appears in raw files, sidecars, state, caches, archives, errors or logs", async () => {
    emulator = await startEmulator({ port: 0, bearerToken: SECRET, faults: [{ kind: "503", at: [1], endpoint: "search/recent" }] });
    const link = emulator.shortLinkUrl("chain-2");
    emulator.addTweets(Array.from({ length: 30 }, (_, i) => ({ text: `secretcheck ${i}`, entities: { urls: [{ start: 12, end: 30, url: link, expanded_url: link }] } })));
    const { logger, lines } = captureLogger();
    const ok = searchJob(
      {
        query: "secretcheck",
        bearerToken: SECRET,
        baseUrl: emulator.url,
        mode: "once",
        maxResults: 10,
        archive: { everyFiles: 2 },
        urlResolution: { allowPrivateAddresses: true },
        retry: { attempts: 3, baseMs: 1, maxMs: 2 },
      },
      join(tmp.dir, "ok"),
      logger,
      "ok",
    );
    const good = await runJob(ok, { logger, concurrency: 2 });
    expect(good.reason).toBe("done");
    expect(good.tasks.retried).toBe(1);

    // A rejected token: the error path (a 401 reported by the runner) is logged too.
    const bad = searchJob({ query: "secretcheck", bearerToken: `${SECRET}-revoked`, baseUrl: emulator.url, mode: "once" }, join(tmp.dir, "bad"), logger, "bad");
    const failed = await runJob(bad, { logger });
    expect(failed.failedJobs).toEqual(["bad"]);
    expect(failed.failed[0]!.error.message).toMatch(/check the bearer token/i);
    expect(JSON.stringify(failed.failed.map((f) => f.error))).not.toContain(SECRET);

    const files = await allFiles(tmp.dir);
    expect(files.some((f) => f.endsWith(".tar.gz"))).toBe(true);
    expect(files.some((f) => f.endsWith(".urls.jsonl"))).toBe(true);
    for (const file of files) {
      let data = await readFile(file);
      if (file.endsWith(".gz")) data = gunzipSync(data);
      expect(data.includes(SECRET), file).toBe(false);
    }
    const log = lines.join("");
    expect(log.length).toBeGreaterThan(1000);
    expect(log).toContain("task failed");
    expect(log).not.toContain(SECRET);
  });
});
