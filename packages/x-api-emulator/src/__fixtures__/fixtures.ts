// Test helpers (excluded from dist): locate the real fixtures and talk to an emulator.
import { readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Emulator } from "../server.js";
import type { ApiObject, Page } from "../types.js";

/** `<repo>/fixtures/twitter/`, or UJR_FIXTURES_DIR. */
export const FIXTURES = process.env.UJR_FIXTURES_DIR
  ? pathToFileURL(process.env.UJR_FIXTURES_DIR.replace(/\/?$/, "/"))
  : new URL("../../../../fixtures/twitter/", import.meta.url);

export function fixturePath(name: string): string {
  return fileURLToPath(new URL(name, FIXTURES));
}

export function fixturePages(name: string): Page[] {
  const pages: Page[] = [];
  for (const line of readFileSync(fixturePath(name), "utf8").split("\n")) {
    if (line.trim() === "") continue;
    try {
      pages.push(JSON.parse(line) as Page);
    } catch {
      // truncated line in streaming_output_with_error.jsonl
    }
  }
  return pages;
}

/** Distinct tweets from `data` of the given fixture files. */
export function fixtureTweets(...names: string[]): ApiObject[] {
  const byId = new Map<string, ApiObject>();
  for (const name of names) {
    for (const page of fixturePages(name)) {
      const data = Array.isArray(page.data) ? page.data : page.data ? [page.data] : [];
      for (const t of data) if (!byId.has(t.id as string)) byId.set(t.id as string, t);
    }
  }
  return [...byId.values()];
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any;
}

export async function api(em: Emulator, path: string, params: Record<string, string> = {}, token: string | null = "test-token"): Promise<ApiResponse> {
  const url = new URL(path, em.url);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const res = await fetch(url, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** Follows next_token (or pagination_token) to the end; returns all data tweets and page count. */
export async function collectAll(em: Emulator, path: string, params: Record<string, string>, tokenParam = "next_token") {
  const tweets: ApiObject[] = [];
  let pages = 0;
  let token: string | undefined;
  for (;;) {
    const r = await api(em, path, token ? { ...params, [tokenParam]: token } : params);
    if (r.status !== 200) throw new Error(`status ${r.status}: ${JSON.stringify(r.body)}`);
    pages++;
    tweets.push(...(r.body.data ?? []));
    token = r.body.meta?.next_token;
    if (!token) return { tweets, pages };
    if (pages > 10_000) throw new Error("runaway pagination");
  }
}

export const byIdDesc = (a: string, b: string): number => (BigInt(a) > BigInt(b) ? -1 : BigInt(a) < BigInt(b) ? 1 : 0);
