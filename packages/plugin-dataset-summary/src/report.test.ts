import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { inflateSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTidyDb } from "./__fixtures__/tidy-db.js";
import { chromiumOrSkip } from "../../runner-local/src/__fixtures__/chromium.js";
import type { Manifest } from "./manifest.js";
import { toCsv } from "./report/csv.js";
import { renderReportHtml } from "./report/html.js";
import { BAR_COLOUR, fillTimeGaps, LINE_COLOUR } from "./report/svg.js";
import { runSummary } from "./run.js";

/** Decodes an 8-bit RGB/RGBA PNG into RGBA pixels (enough for Chromium screenshots). */
function decodePng(buf: Buffer): { width: number; height: number; rgba: Uint8Array } {
  let pos = 8;
  let width = 0;
  let height = 0;
  let colourType = 0;
  const idat: Buffer[] = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString("latin1", pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      if (data[8] !== 8) throw new Error("only 8-bit PNGs");
      colourType = data[9]!;
    } else if (type === "IDAT") idat.push(data);
    pos += 12 + len;
  }
  const bpp = colourType === 6 ? 4 : colourType === 2 ? 3 : NaN;
  if (Number.isNaN(bpp)) throw new Error(`unsupported colour type ${colourType}`);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const out = new Uint8Array(width * height * 4);
  let prev = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const cur = new Uint8Array(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? cur[i - bpp]! : 0;
      const b = prev[i]!;
      const c = i >= bpp ? prev[i - bpp]! : 0;
      let v = line[i]!;
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      cur[i] = v & 255;
    }
    for (let x = 0; x < width; x++) {
      out.set([cur[x * bpp]!, cur[x * bpp + 1]!, cur[x * bpp + 2]!, bpp === 4 ? cur[x * bpp + 3]! : 255], (y * width + x) * 4);
    }
    prev = cur;
  }
  return { width, height, rgba: out };
}

function countColour(img: { rgba: Uint8Array }, hex: string, tolerance = 4): number {
  const r = parseInt(hex.slice(1, 3), 16), g = parseInt(hex.slice(3, 5), 16), b = parseInt(hex.slice(5, 7), 16);
  let n = 0;
  for (let i = 0; i < img.rgba.length; i += 4) {
    if (Math.abs(img.rgba[i]! - r) <= tolerance && Math.abs(img.rgba[i + 1]! - g) <= tolerance && Math.abs(img.rgba[i + 2]! - b) <= tolerance) n++;
  }
  return n;
}

let dir: string;
let manifest: Manifest;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "ujr-summary-report-"));
  buildTidyDb(path.join(dir, "tidy.db"), ["timeline-observatoryteam.jsonl", "brexit.jsonl"]);
  manifest = await runSummary({
    job: "report",
    database: "tidy.db",
    baseDir: dir,
    outDir: path.join(dir, "out"),
    keep: 3,
    queries: [
      { name: "top_hashtags", builtin: "top_hashtags", options: { limit: 10 }, timeoutMs: 10_000, maxRows: 100 },
      { name: "tweets_over_time", builtin: "tweets_over_time", timeoutMs: 10_000, maxRows: 10_000 },
    ],
    title: "Report <&> test",
  });
}, 30_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("report rendering", () => {
  it("CSV quotes what needs quoting", () => {
    expect(toCsv(["a", "b"], [["x,y", 'say "hi"'], [null, 3], ["line\nbreak", { k: 1 }]])).toBe('a,b\r\n"x,y","say ""hi"""\r\n,3\r\n"line\nbreak","{""k"":1}"\r\n');
  });

  it("CSV cells that a spreadsheet would run as a formula are written as text", () => {
    const evil = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd", "plain", "a=b"];
    const csv = toCsv(["text", "n"], evil.map((t, i) => [t, -i]));
    const cells = csv.split("\r\n").slice(1, -1);
    expect(cells).toEqual([
      `"'=HYPERLINK(""http://x"")",0`,
      "'+1+1,-1",
      "'-2+3,-2",
      "'@SUM(A1),-3",
      "'\tcmd,-4",
      `"'\rcmd",-5`,
      "plain,-6",
      "a=b,-7",
    ]);
  });

  it("the line chart of a time series draws zero for days (and hours) without rows", () => {
    const days = fillTimeGaps([
      { label: "2024-05-01", value: 4 },
      { label: "2024-05-04", value: 2 },
    ]);
    expect(days).toEqual([
      { label: "2024-05-01", value: 4 },
      { label: "2024-05-02", value: 0 },
      { label: "2024-05-03", value: 0 },
      { label: "2024-05-04", value: 2 },
    ]);
    expect(fillTimeGaps([{ label: "2024-05-01T23:00:00Z", value: 1 }, { label: "2024-05-02T01:00:00Z", value: 1 }]).map((p) => p.label)).toEqual([
      "2024-05-01T23:00:00Z",
      "2024-05-02T00:00:00Z",
      "2024-05-02T01:00:00Z",
    ]);
    const other = [{ label: "b", value: 1 }, { label: "a", value: 2 }];
    expect(fillTimeGaps(other)).toBe(other);

    const m = { ...manifest, queries: [{ name: "per_day", title: "Per day", kind: "builtin" as const, builtin: "tweets_over_time" as const, rows: 2, columns: ["period", "tweets"], truncated: false, durationMs: 1, chart: { type: "line" as const, x: "period", y: "tweets" } }] };
    const html = renderReportHtml(m, new Map([["per_day", { columns: ["period", "tweets"], rows: [["2024-05-01", 4], ["2024-05-03", 2]] }]]));
    expect(html).toContain("<title>2024-05-02: 0</title>");
    expect(html.match(/<circle /g)).toHaveLength(3);
    // the table still shows the rows the query returned
    expect(html).not.toContain("<td>2024-05-02</td>");
  });

  it("report.html is self-contained and escapes text", () => {
    const html = readFileSync(manifest.report, "utf8");
    expect(html).toContain("Report &lt;&amp;&gt; test");
    expect(html).not.toMatch(/<script|<link|<img|@import|url\(/i);
    expect(html.match(/<svg/g)!.length).toBe(2);
    expect(html).toContain(`stroke="${LINE_COLOUR}"`);
    expect(html).toContain(`fill="${BAR_COLOUR}"`);
  });

  it("renders charts in headless Chromium", async (ctx) => {
    const chromium = chromiumOrSkip(ctx.skip);
    const png = process.env.UJR_KEEP_SCREENSHOT ?? path.join(dir, "shot.png");
    const profile = mkdtempSync(path.join(os.tmpdir(), "ujr-chromium-"));
    try {
      await new Promise<void>((resolve, reject) => {
        execFile(
          chromium,
          ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", `--user-data-dir=${profile}`, `--screenshot=${png}`, "--window-size=1200,1600", "--hide-scrollbars", pathToFileURL(manifest.report).href],
          { timeout: 90_000 },
          (err, _stdout, stderr) => (existsSync(png) ? resolve() : reject(new Error(`chromium failed: ${err?.message ?? ""} ${stderr}`))),
        );
      });
      const img = decodePng(readFileSync(png));
      expect(img.width).toBe(1200);
      const line = countColour(img, LINE_COLOUR);
      const bars = countColour(img, BAR_COLOUR);
      expect(line).toBeGreaterThan(300); // the line and its markers
      expect(bars).toBeGreaterThan(5000); // ten solid bars
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  }, 120_000);
});
