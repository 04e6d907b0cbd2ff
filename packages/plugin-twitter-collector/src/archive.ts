import { createReadStream, createWriteStream } from "node:fs";
import { open, readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import tar from "tar-stream";
import { fsyncDir, removeTemps, type TaskContext } from "@ujr/core/task";
import { collectorError } from "./errors.js";
import { rawFileSeq, sidecarName } from "./internal/layout.js";
import { makeFolder } from "./internal/folders.js";
import { loadArchiveState, saveArchiveState } from "./internal/state.js";

export interface ArchiveArgs {
  job: string;
  stateDir: string;
  rawDir: string;
  archiveDir: string;
  /** Raw file names to pack, in sequence order (their sidecars go along). */
  files: string[];
  removeOriginals: boolean;
}

export interface ArchiveResult {
  archive: string | null;
  files: number;
  bytes: number;
  removed: number;
  archivedThroughSeq: number;
}

/** `manifest.json`, the last entry of every archive. */
export interface ArchiveManifest {
  format: "ujr-collector-archive/1";
  job: string;
  created_at: string;
  first_seq: number;
  last_seq: number;
  files: Array<{ path: string; size: number; sha256: string }>;
}

const ARCHIVE_NAME = /^raw-(\d{8,})-(\d{8,})\.tar\.gz$/;

export function archiveName(firstSeq: number, lastSeq: number): string {
  return `raw-${String(firstSeq).padStart(8, "0")}-${String(lastSeq).padStart(8, "0")}.tar.gz`;
}

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/** Reads an archive back: every entry's SHA-256 and size, and the manifest. */
export async function readArchive(path: string): Promise<{ manifest: ArchiveManifest | undefined; entries: Map<string, { size: number; sha256: string; data?: Buffer }> }> {
  const entries = new Map<string, { size: number; sha256: string; data?: Buffer }>();
  let manifest: ArchiveManifest | undefined;
  const extract = tar.extract();
  const reading = pipeline(createReadStream(path), createGunzip(), extract);
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    const data = Buffer.concat(chunks);
    if (entry.header.name === "manifest.json") manifest = JSON.parse(data.toString("utf8")) as ArchiveManifest;
    else entries.set(entry.header.name, { size: data.length, sha256: sha256(data) });
  }
  await reading;
  return { manifest, entries };
}

/** Checks that an archive holds exactly its manifest's files with matching sums. Returns why not, or undefined. */
export async function verifyArchive(path: string, expected?: ArchiveManifest["files"]): Promise<{ problem?: string; manifest?: ArchiveManifest }> {
  let read;
  try {
    read = await readArchive(path);
  } catch (error) {
    return { problem: `cannot read it back: ${(error as Error).message}` };
  }
  const { manifest, entries } = read;
  if (!manifest) return { problem: "no manifest.json" };
  const list = expected ?? manifest.files;
  if (expected && JSON.stringify(expected) !== JSON.stringify(manifest.files)) return { problem: "manifest differs from the files packed", manifest };
  if (entries.size !== list.length) return { problem: `${entries.size} entries for ${list.length} manifest lines`, manifest };
  for (const file of list) {
    const entry = entries.get(file.path);
    if (!entry) return { problem: `missing ${file.path}`, manifest };
    if (entry.sha256 !== file.sha256 || entry.size !== file.size) return { problem: `checksum mismatch for ${file.path}`, manifest };
  }
  return { manifest };
}

async function removeArchived(rawDir: string, throughSeq: number): Promise<number> {
  let removed = 0;
  for (const name of await readdir(rawDir)) {
    const base = name.endsWith(".urls.jsonl") ? name.slice(0, -".urls.jsonl".length) : name;
    const seq = rawFileSeq(base);
    if (seq === undefined || seq > throughSeq) continue;
    await unlink(join(rawDir, name)).catch(() => undefined);
    removed++;
  }
  if (removed > 0) await fsyncDir(rawDir);
  return removed;
}

/**
 * The archive task: packs closed raw files and their sidecars into
 * `archive/raw-<first seq>-<last seq>.tar.gz` with a `manifest.json` of SHA-256 sums,
 * reads it back to verify, renames it into place, records it, and only then removes the
 * originals (when configured). An archive renamed but not recorded (crash) is verified
 * and adopted on the next run instead of packing those files twice.
 */
export async function archiveRun(args: ArchiveArgs, ctx: Pick<TaskContext, "signal" | "logger">): Promise<ArchiveResult> {
  // one plain mkdir per level: a recursive one spins for ever under /proc (see makeFolder)
  makeFolder(args.archiveDir, "archive");
  await removeTemps(args.archiveDir, "archive");
  const state = await loadArchiveState(args.stateDir);

  // Adopt archives whose record a crash prevented.
  for (;;) {
    const next = (await readdir(args.archiveDir))
      .map((name) => ({ name, match: ARCHIVE_NAME.exec(name) }))
      .filter(({ match }) => match && Number(match[1]) > state.archivedThroughSeq)
      .sort((a, b) => Number(a.match![1]) - Number(b.match![1]))[0];
    if (!next) break;
    const path = join(args.archiveDir, next.name);
    const check = await verifyArchive(path);
    if (check.problem) {
      ctx.logger.warn({ job: args.job, archive: next.name, problem: check.problem }, "an unrecorded archive did not verify; packing its files again");
      await unlink(path);
      break;
    }
    const lastSeq = Number(next.match![2]);
    state.archivedThroughSeq = lastSeq;
    state.archives.push({ name: next.name, firstSeq: Number(next.match![1]), lastSeq, files: check.manifest!.files.length, bytes: (await stat(path)).size, createdAt: check.manifest!.created_at });
    state.lastArchiveAt = new Date().toISOString();
    await saveArchiveState(args.stateDir, state);
  }
  let removed = args.removeOriginals ? await removeArchived(args.rawDir, state.archivedThroughSeq) : 0;

  const files = args.files
    .map((name) => ({ name, seq: rawFileSeq(name) ?? -1 }))
    .filter((f) => f.seq > state.archivedThroughSeq)
    .sort((a, b) => a.seq - b.seq);
  const empty = { archive: null, files: 0, bytes: 0, removed, archivedThroughSeq: state.archivedThroughSeq };
  if (files.length === 0) return empty;

  const firstSeq = files[0]!.seq;
  const lastSeq = files[files.length - 1]!.seq;
  const name = archiveName(firstSeq, lastSeq);
  const finalPath = join(args.archiveDir, name);
  const tmpPath = join(args.archiveDir, `.tmp-archive-${name}-${process.pid}`);
  const manifestFiles: ArchiveManifest["files"] = [];

  const pack = tar.pack();
  const writing = pipeline(pack, createGzip(), createWriteStream(tmpPath, { flags: "wx" }));
  const addEntry = (entryName: string, data: Buffer) =>
    new Promise<void>((resolve, reject) => pack.entry({ name: entryName, size: data.length, mode: 0o644, mtime: new Date() }, data, (error) => (error ? reject(error) : resolve())));
  try {
    for (const file of files) {
      for (const entryName of [file.name, sidecarName(file.name)]) {
        let data: Buffer;
        try {
          data = await readFile(join(args.rawDir, entryName));
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "ENOENT" && entryName !== file.name) continue; // no sidecar
          throw error;
        }
        if (ctx.signal.aborted) throw collectorError("UJR_COLLECTOR_CANCELLED", { reason: "archive stopped" });
        const path = `raw/${entryName}`;
        manifestFiles.push({ path, size: data.length, sha256: sha256(data) });
        await addEntry(path, data);
      }
    }
    const manifest: ArchiveManifest = { format: "ujr-collector-archive/1", job: args.job, created_at: new Date().toISOString(), first_seq: firstSeq, last_seq: lastSeq, files: manifestFiles };
    await addEntry("manifest.json", Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
    pack.finalize();
    await writing;
    const handle = await open(tmpPath, "r+");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    const check = await verifyArchive(tmpPath, manifestFiles);
    if (check.problem) throw collectorError("UJR_COLLECTOR_ARCHIVE_VERIFY", { path: name, reason: check.problem });
  } catch (error) {
    pack.destroy();
    await writing.catch(() => undefined);
    await unlink(tmpPath).catch(() => undefined);
    throw error;
  }
  await rename(tmpPath, finalPath);
  await fsyncDir(args.archiveDir);
  const bytes = (await stat(finalPath)).size;
  state.archivedThroughSeq = lastSeq;
  state.lastArchiveAt = new Date().toISOString();
  state.archives.push({ name, firstSeq, lastSeq, files: manifestFiles.length, bytes, createdAt: state.lastArchiveAt });
  await saveArchiveState(args.stateDir, state);
  if (args.removeOriginals) removed += await removeArchived(args.rawDir, lastSeq);
  ctx.logger.info({ job: args.job, archive: name, entries: manifestFiles.length, bytes, removed }, "archive written and verified");
  return { archive: name, files: manifestFiles.length, bytes, removed, archivedThroughSeq: lastSeq };
}
