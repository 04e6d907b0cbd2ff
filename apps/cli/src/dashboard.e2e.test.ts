/// <reference lib="dom" />
/**
 * The dashboard end to end, in headless Chromium (Debian's `chromium`, driven by
 * puppeteer-core; no browser download): `ujr run` with a collector against the X API
 * emulator and a tidier; the page shows progress live; the collector is paused from the
 * page and the runner pauses it; after a restart the history and the paused state are
 * still there. It writes the README's screenshots to docs/images/.
 */
import { afterEach, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, request as httpRequest } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startEmulator, type Emulator } from "@ujr/x-api-emulator";
import type { Browser, Page } from "puppeteer-core";
import { chromiumOrSkip } from "../../../packages/runner-local/src/__fixtures__/chromium.js";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const packages = fileURLToPath(new URL("../../../packages/", import.meta.url));
const images = fileURLToPath(new URL("../../../docs/images/", import.meta.url));
const token = "dash-e2e-3b8f2c71";

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A proxy in front of the emulator that holds every API request until `open()`: the
 * collection starts only once the page is watching, so however slowly a loaded machine
 * launches the browser, the page sees the fetch tasks move (in a fresh-clone CI run the
 * whole collection was once over before the page looked, and the progress never moved).
 */
async function gatedProxy(target: string): Promise<{ url: string; open(): void; close(): Promise<void> }> {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const server = createHttpServer((req, res) => {
    void opened.then(() => {
      const upstream = httpRequest(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on("error", (error) => res.destroy(error));
      req.pipe(upstream);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    open,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** A user's project outside the workspace, with the plugins installed (linked) in its node_modules. */
function project(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "ujr-dashboard-e2e-"));
  mkdirSync(join(dir, "node_modules", "@ujr"), { recursive: true });
  for (const name of ["core", "plugin-twitter-collector", "plugin-tweet-tidier"]) symlinkSync(join(packages, name), join(dir, "node_modules", "@ujr", name), "dir");
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const children: ChildProcess[] = [];
let browser: Browser | undefined;
let emulator: Emulator | undefined;
let proxy: { close(): Promise<void> } | undefined;
let workspace: { dir: string; cleanup(): void } | undefined;
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  await browser?.close();
  browser = undefined;
  await proxy?.close();
  proxy = undefined;
  await emulator?.close();
  emulator = undefined;
  workspace?.cleanup();
});

function startRunner(dir: string) {
  const child = spawn(process.execPath, [bin, "run", "ujr.config.yaml", "--no-tty"], { cwd: dir, env: { ...process.env, CI: "" }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const listening = new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", () => output.includes('"msg":"status server listening') && resolve());
    void exited.then((code) => reject(new Error(`ujr run exited (${code}) before its status server listened:\n${output}`)));
  });
  return { child, exited, listening, output: () => output };
}

async function status(url: string): Promise<{ jobs: Array<{ name: string; status: string; panel?: { fields: Array<{ label: string; value: unknown }> } }> }> {
  return (await fetch(`${url}/status`, { headers: { authorization: `Bearer ${token}` } })).json() as never;
}

/** The text of the progress cell of the collector's running fetch task ("3 / 4 …"), or "". */
const progressText = (page: Page) => page.evaluate(() => document.querySelector('td[data-job="auspol"][data-run]')?.textContent?.trim() ?? "");

describe("the dashboard in a browser", () => {
  it("shows live progress, pauses the collector from the page, and keeps history and the paused state across a restart", async (context) => {
    const chromium = chromiumOrSkip(context.skip);
    const { default: puppeteer } = await import("puppeteer-core");
    // Each API page takes a moment, so a fetch task's progress moves visibly page by page;
    // the query matches the whole sample (33 pages, 9 fetch tasks of 4): the collection
    // goes on while the page is watched, paused and looked at.
    emulator = await startEmulator({ port: 0, latencyMs: 400, rateLimit: false });
    const gate = await gatedProxy(emulator.url);
    proxy = gate;
    workspace = project();
    const port = await freePort();
    writeFileSync(
      join(workspace.dir, "ujr.config.yaml"),
      [
        "runner:",
        "  workers: 2",
        "  isolation: thread",
        "  keepAlive: true",
        "  logLevel: info",
        `  status: { port: ${port}, token: ${token} }`,
        "jobs:",
        "  auspol:",
        '    plugin: "@ujr/plugin-twitter-collector"',
        "    type: search",
        "    config:",
        '      query: "lang:en OR -lang:en"',
        `      baseUrl: ${gate.url}`,
        "      requestTimeout: 5m",
        "      bearerToken: test-token",
        "      mode: continuous",
        "      pollInterval: 1h",
        "      maxResults: 10",
        "      pagesPerTask: 4",
        "      urlResolution: { enabled: false }",
        "  tidy:",
        '    plugin: "@ujr/plugin-tweet-tidier"',
        "    type: tidy",
        "    config:",
        "      inputs: [./data/auspol/raw]",
        "      pollInterval: 500ms",
        "      settleTime: 0s",
        "",
      ].join("\n"),
    );
    const url = `http://127.0.0.1:${port}`;
    let run = startRunner(workspace.dir);
    await run.listening;

    browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const requests: string[] = [];
    page.on("request", (request) => requests.push(request.url()));
    await page.goto(`${url}/`);
    // The runner has a token: the page asks for it, keeps it for the tab, sends it in a header.
    await page.waitForSelector("#token-form:not([hidden])");
    await page.type("#token", token);
    await page.keyboard.press("Enter");

    // Live: the collector's running fetch task shows its progress, and it moves without a reload.
    // The first fetch task waits at the gate until the page shows it; then the pages flow.
    const explain = (what: string) => async (error: Error) => {
      const job = await status(url).then((s) => s.jobs.find((j) => j.name === "auspol")).catch((cause: Error) => cause.message);
      throw new Error(`${error.message} (waiting for ${what}); the progress cell reads ${JSON.stringify(await progressText(page))}; job auspol: ${JSON.stringify(job)}; the emulator answered ${emulator!.stats().total} requests; the runner printed (last 3000 characters):\n${run.output().slice(-3000)}`);
    };
    await page.waitForSelector('td[data-job="auspol"][data-run]', { timeout: 30_000 }).catch(explain("the first fetch task on the page"));
    gate.open();
    const fetching = () => /\d+ \/ 4/.test(document.querySelector('td[data-job="auspol"][data-run]')?.textContent ?? "");
    await page.waitForFunction(fetching, { timeout: 30_000 }).catch(explain("a fetch task's progress"));
    const first = await progressText(page);
    await page
      .waitForFunction((before) => {
        const now = document.querySelector('td[data-job="auspol"][data-run]')?.textContent?.trim() ?? "";
        return /\d+ \/ 4/.test(now) && now !== before;
      }, { timeout: 30_000 }, first)
      .catch(explain(`the progress to move on from ${JSON.stringify(first)}`));
    expect(await progressText(page)).not.toBe(first);
    // The collector's own panel counts what the finished fetches stored, while the next one
    // runs (and no tidy task, whose signature is a file path of this machine, is on screen).
    await page.waitForFunction(
      () =>
        /Tweets collected\s*[1-9]/.test(document.querySelector("main")?.textContent ?? "") &&
        /\d+ \/ 4/.test(document.querySelector('td[data-job="auspol"][data-run]')?.textContent ?? "") &&
        document.querySelector('td[data-job="tidy"]') === null,
      { timeout: 30_000 },
    ).catch(explain("the collector's panel to count tweets while a fetch task runs"));
    mkdirSync(images, { recursive: true });
    await page.screenshot({ path: join(images, "dashboard-overview.png"), fullPage: true });

    // Live updates (several a second while a task makes progress) change the page in place:
    // the Pause button stays the same element, so a press on it is not lost to an update.
    const pause = (await page.$('button[aria-label="Pause job auspol"]'))!;
    const shown = await page.evaluate(() => document.documentElement.dataset.updated);
    await page.waitForFunction((before) => document.documentElement.dataset.updated !== before, { timeout: 10_000 }, shown);
    expect(await pause.evaluate((button) => button.isConnected)).toBe(true);

    // Pause from the page (keyboard: focus the button, press Enter); the runner pauses the job.
    await pause.focus();
    await page.keyboard.press("Enter");
    await page
      .waitForFunction(() => document.querySelector("#notice")?.textContent?.startsWith("job auspol paused"), { timeout: 10_000 })
      .catch(async (error: Error) => {
        // say what the page and the runner showed instead (a refused pause, a job that ended, no answer)
        const notice = await page.$eval("#notice", (el) => el.textContent).catch(() => "(no #notice)");
        const job = (await status(url)).jobs.find((j) => j.name === "auspol");
        throw new Error(`${error.message}; the notice reads ${JSON.stringify(notice)}; job auspol: ${JSON.stringify(job?.status)}`);
      });
    expect((await status(url)).jobs.find((job) => job.name === "auspol")?.status).toBe("paused");
    await page.waitForSelector('button[aria-label="Resume job auspol"]');

    // The job page: its history (the fetch run ends even though the job is paused), its panel.
    await page.click('a[href="/jobs/auspol"]');
    await page.waitForFunction(() => document.querySelector("#runs tbody tr") !== null && document.body.textContent?.includes("✓ done"), { timeout: 30_000 });
    await page.waitForFunction(() => document.querySelector("#job-panel")?.textContent?.includes("Tweets collected"));
    await page.waitForFunction(() => !document.querySelector("#job-side")?.textContent?.includes("No successful run yet"), { timeout: 30_000 });
    await page.screenshot({ path: join(images, "dashboard-job.png"), fullPage: true });
    const runsBefore = await page.$$eval("#runs tbody tr", (rows) => rows.length);
    expect(runsBefore).toBeGreaterThan(0);

    // Restart: the runner stops on SIGINT and starts again on the same port.
    run.child.kill("SIGINT");
    expect(await run.exited).toBe(130);
    await page.waitForFunction(() => document.querySelector("#connection")?.textContent?.startsWith("disconnected"), { timeout: 10_000 });
    run = startRunner(workspace.dir);
    await run.listening;
    expect(run.output()).toContain("stay paused");
    // The jobs are added once the runner starts, just after its status server listens.
    await expect.poll(async () => (await status(url)).jobs.find((job) => job.name === "auspol")?.status, { timeout: 10_000, interval: 50 }).toBe("paused");

    // The page reconnects by itself; after a reload the job page lists the runs from before the restart.
    await page.waitForFunction(() => document.querySelector("#connection")?.textContent === "live", { timeout: 30_000 });
    await page.reload();
    await page.waitForFunction((count) => document.querySelectorAll("#runs tbody tr").length >= count, { timeout: 30_000 }, runsBefore);
    await page.waitForFunction(() => document.querySelector("#job-state")?.textContent?.includes("paused"));

    // Nothing was loaded from anywhere but the runner.
    expect(requests.filter((address) => !address.startsWith(url))).toEqual([]);
    run.child.kill("SIGINT");
    expect(await run.exited).toBe(130);
  }, 180_000);
});
