import { gzipSync } from "node:zlib";
import tar from "tar-stream";

/** Builds a .tar.gz in memory (like the collector's archives). */
export async function makeTarGz(entries: { name: string; data: Buffer }[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on("data", (c: unknown) => void chunks.push(c as Buffer));
    pack.on("end", () => resolve());
    pack.on("error", reject);
  });
  for (const e of entries) pack.entry({ name: e.name, size: e.data.length }, e.data);
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}
