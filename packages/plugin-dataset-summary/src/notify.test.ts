import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTidyDb } from "./__fixtures__/tidy-db.js";
import { summaryConfigSchema } from "./config.js";
import type { Manifest } from "./manifest.js";
import { isPrivateAddress } from "./notify/address-guard.js";
import { notify } from "./notify/send.js";
import { runSummary } from "./run.js";

let dir: string;
let manifest: Manifest;

function captureLogger() {
  const lines: string[] = [];
  const log = (level: string) => (obj: object, msg?: string) => lines.push(JSON.stringify({ level, ...obj, msg }));
  return { lines, logger: { info: log("info"), warn: log("warn"), error: log("error") } };
}

const noSleep = async () => {};

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "ujr-summary-notify-"));
  buildTidyDb(path.join(dir, "tidy.db"), ["brexit.jsonl"]);
  manifest = await runSummary({
    job: "notify",
    database: "tidy.db",
    baseDir: dir,
    outDir: path.join(dir, "out"),
    keep: 5,
    queries: [
      { name: "top_hashtags", builtin: "top_hashtags", timeoutMs: 10_000, maxRows: 100 },
      { name: "broken", sql: "SELECT * FROM nowhere", timeoutMs: 10_000, maxRows: 100 },
    ],
  });
}, 30_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function target(raw: object) {
  return summaryConfigSchema.parse({ database: "x", schedule: { once: true }, notify: [raw] }).notify[0]!;
}

describe("webhook", () => {
  it("retries after a failure, then delivers a Slack-compatible JSON summary; the secret never reaches the logs", async () => {
    const received: { path: string; body: Record<string, unknown> }[] = [];
    let calls = 0;
    const server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        calls++;
        if (calls === 1) {
          res.writeHead(503).end("try later");
          return;
        }
        received.push({ path: req.url!, body: JSON.parse(body) });
        res.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    const secret = "T000/B000/s3cr3tT0k3nXYZ";
    const { lines, logger } = captureLogger();
    try {
      const t = target({ type: "webhook", name: "slack", url: `http://127.0.0.1:${port}/services/${secret}`, allowPrivateAddresses: true, retry: { attempts: 3, base: "10ms", max: "50ms" } });
      const result = await notify({ job: "notify", runDir: manifest.dir, targetName: "slack", target: t }, { logger, sleep: noSleep });
      expect(calls).toBe(2);
      expect(result.detail).not.toContain(secret);
      expect(received).toHaveLength(1);
      expect(received[0]!.path).toBe(`/services/${secret}`);
      const body = received[0]!.body;
      expect(typeof body.text).toBe("string");
      expect(body.text).toContain("broken: FAILED UJR_SUMMARY_QUERY_FAILED");
      expect(body.text).toContain("top_hashtags");
      expect(body.runId).toBe(manifest.runId);
      expect(lines.some((l) => l.includes("retrying"))).toBe(true);
      expect(lines.length).toBeGreaterThanOrEqual(2);
      for (const l of lines) expect(l).not.toContain("s3cr3t");
      for (const l of lines) expect(l).not.toContain("/services/");
    } finally {
      server.close();
    }
  });

  it("gives up after its attempts with an error that names only the origin", async () => {
    const server = http.createServer((_req, res) => res.writeHead(500).end());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    const { lines, logger } = captureLogger();
    try {
      const t = target({ type: "webhook", url: `http://127.0.0.1:${port}/hook/topsecret`, allowPrivateAddresses: true, retry: { attempts: 2, base: "1ms", max: "1ms" } });
      const err = await notify({ job: "notify", runDir: manifest.dir, targetName: "w", target: t }, { logger, sleep: noSleep }).catch((e: unknown) => e as Error & { code: string });
      expect((err as { code: string }).code).toBe("UJR_SUMMARY_WEBHOOK_FAILED");
      expect((err as Error).message).toContain(`http://127.0.0.1:${port}`);
      expect((err as Error).message).not.toContain("topsecret");
      for (const l of lines) expect(l).not.toContain("topsecret");
    } finally {
      server.close();
    }
  });

  it("refuses loopback, private and link-local targets unless allowed", async () => {
    for (const host of ["127.0.0.1", "[::1]", "10.1.2.3", "169.254.169.254", "192.168.0.10", "[::ffff:127.0.0.1]", "localhost"]) {
      const t = target({ type: "webhook", url: `http://${host}:9/x/secret` });
      const err = await notify({ job: "notify", runDir: manifest.dir, targetName: "w", target: t }, { sleep: noSleep }).catch((e: unknown) => e as { code: string; message: string });
      expect(err, host).toMatchObject({ code: "UJR_SUMMARY_ADDRESS_REFUSED" });
      expect((err as { message: string }).message).not.toContain("secret");
    }
    expect(isPrivateAddress("8.8.8.8")).toBe(false);
    expect(isPrivateAddress("2606:4700:4700::1111")).toBe(false);
    expect(isPrivateAddress("fe80::1")).toBe(true);
    expect(isPrivateAddress("fd00::1")).toBe(true);
    expect(isPrivateAddress("100.64.0.1")).toBe(true);
  });
});

describe("email", () => {
  it("delivers the summary with the report attached through a local SMTP server", async () => {
    const messages: { from: string; to: string[]; raw: string }[] = [];
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onData(stream, session, cb) {
        let raw = "";
        stream.on("data", (c: Buffer) => (raw += c.toString("utf8")));
        stream.on("end", () => {
          messages.push({ from: session.envelope.mailFrom ? (session.envelope.mailFrom as { address: string }).address : "", to: session.envelope.rcptTo.map((r) => r.address), raw });
          cb();
        });
      },
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.server.address() as AddressInfo).port;
    try {
      const t = target({ type: "email", host: "127.0.0.1", port, ignoreTLS: true, from: "ujr@example.org", to: ["team@example.org", "lead@example.org"], allowPrivateAddresses: true });
      const r = await notify({ job: "notify", runDir: manifest.dir, targetName: "mail", target: t });
      expect(r.detail).toContain("2 recipient");
      expect(messages).toHaveLength(1);
      expect(messages[0]!.from).toBe("ujr@example.org");
      expect(messages[0]!.to).toEqual(["team@example.org", "lead@example.org"]);
      expect(messages[0]!.raw).toMatch(/Subject: \[ujr\] notify summary/);
      expect(messages[0]!.raw).toContain(`filename=notify-${manifest.runId}-report.html`);
      expect(messages[0]!.raw).toContain("Content-Type: text/html");
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it("refuses a private SMTP host unless allowed", async () => {
    const t = target({ type: "email", host: "127.0.0.1", port: 2525, from: "a@b.c", to: "d@e.f" });
    await expect(notify({ job: "notify", runDir: manifest.dir, targetName: "mail", target: t })).rejects.toMatchObject({ code: "UJR_SUMMARY_ADDRESS_REFUSED" });
  });
});

describe("folder", () => {
  it("copies the stored report (and data when asked) into the folder", async () => {
    const share = path.join(dir, "share");
    const t = target({ type: "folder", path: share, includeData: true });
    await notify({ job: "notify", runDir: manifest.dir, targetName: "f", target: t });
    const dest = path.join(share, "notify", manifest.runId);
    expect(readFileSync(path.join(dest, "report.html"), "utf8")).toBe(readFileSync(manifest.report, "utf8"));
    expect(existsSync(path.join(dest, "top_hashtags.csv"))).toBe(true);
    expect(existsSync(path.join(share, "notify", "latest.html"))).toBe(true);
  });

  it("only sends stored results: a missing run is an error, not an empty notification", async () => {
    const t = target({ type: "folder", path: path.join(dir, "share2") });
    await expect(notify({ job: "notify", runDir: path.join(dir, "out", "notify", "nope"), targetName: "f", target: t })).rejects.toMatchObject({ code: "UJR_SUMMARY_NO_RESULTS" });
  });
});
