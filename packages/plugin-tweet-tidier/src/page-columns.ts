/**
 * The columns of a parsed page's rows that are known only after its parsing: the file's id
 * (a parse thread parses before the file is claimed) and the page's number in its file.
 */
import type { ParseEvent } from "./parse-events.js";
import { PAGE_TABLES, type PageTable, type ParsedPage } from "./parse-page.js";
import { insertColumns, table } from "./schema.js";

const columnIndex = (t: string, name: string): number => insertColumns(table(t)).findIndex((c) => c.name === name);
/** Row columns holding source_file_id, by table. */
const FILE_ID_COLUMNS = PAGE_TABLES.map((t): [PageTable, number] => [t, columnIndex(t, "source_file_id")]).filter(([, i]) => i >= 0);
const PAGE_FILE_ID = columnIndex("pages", "source_file_id");
const SIDECAR_FILE_ID = columnIndex("resolved_urls", "source_file_id");
/** Row columns holding page_no, by table. */
const PAGE_NO_COLUMNS = PAGE_TABLES.map((t): [PageTable, number] => [t, columnIndex(t, "page_no")]).filter(([, i]) => i >= 0);
const PAGE_PAGE_NO = columnIndex("pages", "page_no");

/** Sets one column (its index in the page row, and in each table's rows) of every row of a page. */
function fillColumn(p: ParsedPage, pageColumn: number, columns: readonly [PageTable, number][], value: number): void {
  p.page[pageColumn] = value;
  for (const [t, i] of columns) {
    const rs = p.rows[t];
    for (let k = 0; k < rs.length; k++) rs[k]![i] = value;
  }
}

/**
 * Sets the page number in a page's rows. The loader numbers the pages it loads (see
 * ingest.ts): a parse thread counts the pages it parsed, which a thread parsing a share of a
 * file's lines, or one that parsed an archive member the loader skips, gets wrong.
 */
export const setPageNo = (p: ParsedPage, pageNo: number): void => fillColumn(p, PAGE_PAGE_NO, PAGE_NO_COLUMNS, pageNo);

/** The page number a parsed page's rows hold. */
export const pageNoOf = (p: ParsedPage): unknown => p.page[PAGE_PAGE_NO];

/** Sets the file id in the rows of an event parsed by the worker (which parses before the file is claimed). */
export function setFileId(ev: ParseEvent, fileId: number): void {
  if (ev.t === "page") fillColumn(ev.parsed, PAGE_FILE_ID, FILE_ID_COLUMNS, fileId);
  else if (ev.t === "sidecar") {
    ev.row[SIDECAR_FILE_ID] = fileId;
  }
}

