// The browser the browser tests drive: the system's Chromium (no browser download can work
// on the test machines), found where Debian installs it or at CHROMIUM_BIN.
import { existsSync } from "node:fs";
import { skipOutsideCI } from "./processes.js";

/** The Chromium to drive; without one the test is skipped, saying why (see skipOutsideCI). */
export function chromiumOrSkip(skip: (note: string) => never): string {
  for (const candidate of [process.env.CHROMIUM_BIN, "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]) if (candidate && existsSync(candidate)) return candidate;
  return skipOutsideCI("chromium is not installed (apt-get install -y chromium, or set CHROMIUM_BIN)", skip);
}
