/**
 * Short links for URL-resolver tests, served at `/s/:code` (GET and HEAD), and the
 * HTML pages they end on, at `/p/:slug`.
 *
 * Built-in codes:
 * - `page` and `page-<slug>`: 301 to `/p/page` / `/p/<slug>`, a 200 HTML page titled `Emulated page <slug>`.
 * - `chain-<n>` (1 ≤ n ≤ 100): n redirects (301, 302, 307, 308 in turn) ending on `/p/chain` (200).
 * - `loop-a` ⇄ `loop-b`: a redirect loop (302).
 * - `dead`: 301 to `/p/missing`, which is a 404. Any unknown code is a 404 too.
 * - `slow`: answers after `slowLinkMs` (default 10 s) with a 302 to `/p/slow`.
 * Custom codes: `emulator.addShortLink(code, target, status)`.
 */

export type RedirectStatus = 301 | 302 | 303 | 307 | 308;

export interface ShortLinkAnswer {
  status: number;
  /** Absolute or origin-relative Location. */
  location?: string;
  /** Delay before answering (the `slow` code). */
  delayMs?: number;
}

const CHAIN_STATUSES: RedirectStatus[] = [301, 302, 307, 308];
export const MAX_CHAIN = 100;

export class ShortLinks {
  private custom = new Map<string, { target: string; status: RedirectStatus }>();

  constructor(public slowLinkMs = 10_000) {}

  add(code: string, target: string, status: RedirectStatus = 301): void {
    this.custom.set(code, { target, status });
  }

  resolve(code: string): ShortLinkAnswer {
    const custom = this.custom.get(code);
    if (custom) return { status: custom.status, location: custom.target };
    if (code === "page") return { status: 301, location: "/p/page" };
    if (code.startsWith("page-") && code.length > 5) return { status: 301, location: `/p/${encodeURIComponent(code.slice(5))}` };
    const chain = /^chain-([0-9]{1,3})$/.exec(code);
    if (chain) {
      const n = Number(chain[1]);
      if (n >= 1 && n <= MAX_CHAIN) {
        return { status: CHAIN_STATUSES[(n - 1) % CHAIN_STATUSES.length]!, location: n === 1 ? "/p/chain" : `/s/chain-${n - 1}` };
      }
    }
    if (code === "loop-a") return { status: 302, location: "/s/loop-b" };
    if (code === "loop-b") return { status: 302, location: "/s/loop-a" };
    if (code === "dead") return { status: 301, location: "/p/missing" };
    if (code === "slow") return { status: 302, location: "/p/slow", delayMs: this.slowLinkMs };
    return { status: 404 };
  }
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The landing page for `/p/:slug`; `undefined` means 404 (`missing`). */
export function landingPage(slug: string): string | undefined {
  if (slug === "missing" || slug === "") return undefined;
  const title = `Emulated page ${escapeHtml(slug)}`;
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${title}</title>` +
    `<meta name="description" content="A page served by @ujr/x-api-emulator"></head>` +
    `<body><h1>${title}</h1></body></html>\n`;
}
