import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startEmulator, type Emulator } from "@ujr/x-api-emulator";
import { archiveRun, readArchive, verifyArchive } from "./archive.js";
import { captureLogger, dataIds, drive, readRawPages, searchJob, tempDir } from "./__fixtures__/helpers.js";

let emulator: Emulator;
let tmp: { dir: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  tmp = await tempDir("ujr-collector-archive-");
  emulator = await startEmulator({ port: 0 });
});
afterEach(async () => {
  await emulator.close();
  await tmp.cleanup();
});

const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex");

async function unpack(path: string): Promise<Map<string, Buffer>> {
  const { default: tar } = await import("tar-stream");
  const { createReadStream } = await import("node:fs");
  const { createGunzip } = await import("node:zlib");
  const extract = tar.extract();
  createReadStream(path).pipe(createGunzip()).pipe(extract);
  const out = new Map<string, Buffer>();
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    out.set(entry.header.name, Buffer.concat(chunks));
  }
  return out;
}

describe("archive", () => {
  it("round trip: every N files, raw files and sidecars packed with a manifest; unpacked bytes equal the originals", async () => {
    const links = ["chain-2", "page-a", "dead", "loop-a", "page-b"].map((c) => emulator.shortLinkUrl(c));
    emulator.addTweets(Array.from({ length: 50 }, (_, i) => ({ text: `archtest ${i}`, entities: { urls: [{ start: 9, end: 30, url: links[i % 5]!, expanded_url: links[i % 5]! }] } })));
    const job = searchJob(
      { query: "archtest", baseUrl: emulator.url, mode: "once", maxResults: 10, pagesPerTask: 2, archive: { everyFiles: 2 }, urlResolution: { allowPrivateAddresses: true, filesPerTask: 2 } },
      tmp.dir,
    );
    expect((await drive(job)).outcome).toBe("done");
    const archives = (await readdir(join(tmp.dir, "archive"))).sort();
    expect(archives).toEqual(["raw-00000001-00000002.tar.gz", "raw-00000003-00000004.tar.gz", "raw-00000005-00000005.tar.gz"]);
    const rawNames = (await readdir(join(tmp.dir, "raw"))).sort();
    expect(rawNames).toHaveLength(10); // originals kept (removeOriginals: false): 5 pages + 5 sidecars
    const seen = new Set<string>();
    for (const name of archives) {
      const entries = await unpack(join(tmp.dir, "archive", name));
      const manifest = JSON.parse(entries.get("manifest.json")!.toString("utf8"));
      expect(manifest.format).toBe("ujr-collector-archive/1");
      for (const file of manifest.files) {
        const packed = entries.get(file.path)!;
        const original = await readFile(join(tmp.dir, file.path));
        expect(packed.equals(original)).toBe(true);
        expect(sha(packed)).toBe(file.sha256);
        expect(packed.length).toBe(file.size);
        seen.add(file.path.slice("raw/".length));
      }
      expect(entries.size).toBe(manifest.files.length + 1);
      expect((await verifyArchive(join(tmp.dir, "archive", name))).problem).toBeUndefined();
    }
    expect(seen).toEqual(new Set(rawNames));
  });

  it("removeOriginals: originals go only after their archive verified; the tweets are all in the archives", async () => {
    const job = searchJob({ query: "#brexit", baseUrl: emulator.url, mode: "once", maxResults: 10, archive: { everyFiles: 3, removeOriginals: true } }, tmp.dir);
    expect((await drive(job)).outcome).toBe("done");
    expect((await readdir(join(tmp.dir, "raw"))).filter((n) => !n.startsWith("."))).toEqual([]);
    const ids: string[] = [];
    for (const name of await readdir(join(tmp.dir, "archive"))) {
      const entries = await unpack(join(tmp.dir, "archive", name));
      for (const [path, data] of entries) if (path !== "manifest.json") ids.push(...data.toString("utf8").trim().split("\n").flatMap((l) => JSON.parse(l).data.map((t: { id: string }) => t.id)));
    }
    expect(ids).toHaveLength(100);
    expect(new Set(ids).size).toBe(100);
    const state = JSON.parse(await readFile(join(tmp.dir, "archive-state.json"), "utf8"));
    expect(state.archivedThroughSeq).toBe(10);
  });

  it("an archive renamed but not recorded (crash) is adopted, not packed twice", async () => {
    const job = searchJob({ query: "#brexit", baseUrl: emulator.url, mode: "once", maxResults: 10 }, tmp.dir);
    expect((await drive(job)).outcome).toBe("done");
    const rawDir = join(tmp.dir, "raw");
    const files = (await readRawPages(rawDir)).map((p) => p.file);
    const args = { job: "j", stateDir: tmp.dir, rawDir, archiveDir: join(tmp.dir, "archive"), removeOriginals: false };
    const ctx = { signal: new AbortController().signal, logger: captureLogger().logger };
    const before = await readFile(join(tmp.dir, "archive-state.json"), "utf8").catch(() => undefined);
    await archiveRun({ ...args, files: files.slice(0, 4) }, ctx);
    // crash: the record of the archive is lost
    if (before === undefined) await writeFile(join(tmp.dir, "archive-state.json"), JSON.stringify({ version: 1, archivedThroughSeq: 0, lastArchiveAt: null, archives: [] }));
    const result = await archiveRun({ ...args, files }, ctx);
    expect(result.archive).toBe("raw-00000005-00000010.tar.gz");
    expect((await readdir(args.archiveDir)).sort()).toEqual(["raw-00000001-00000004.tar.gz", "raw-00000005-00000010.tar.gz"]);
    const all = [];
    for (const name of await readdir(args.archiveDir)) all.push(...(await readArchive(join(args.archiveDir, name))).entries.keys());
    expect(all).toHaveLength(10);
    expect(dataIds(await readRawPages(rawDir))).toHaveLength(100);
  });
});
