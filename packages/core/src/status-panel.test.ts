import { describe, expect, it } from "vitest";
import { normalizeStatusPanel, statusPanelLines, STATUS_PANEL_LIMITS } from "./status-panel.js";

describe("status panels", () => {
  it("keep plain values, drop what is not a panel field, and cut what is too long", () => {
    const panel = normalizeStatusPanel({
      title: "Collection",
      fields: [
        { label: "Tweets", value: 12, unit: "tweets" },
        { label: "At", value: new Date(Date.UTC(2026, 0, 1)), format: "time" },
        { label: "Nothing yet", value: undefined },
        { label: "Not a number", value: Number.NaN },
        { label: "Odd tone", value: "x", tone: "purple", format: "weird" },
        { value: "no label" },
        null,
        { label: "Long", value: "y".repeat(1000) },
      ],
      list: { title: "Recent", items: [{ text: "a.jsonl", detail: "100 tweets", tone: "ok" }, { text: 5 }] },
    });
    expect(panel).toEqual({
      title: "Collection",
      fields: [
        { label: "Tweets", value: 12, unit: "tweets" },
        { label: "At", value: "2026-01-01T00:00:00.000Z", format: "time" },
        { label: "Nothing yet", value: null },
        { label: "Not a number", value: null },
        { label: "Odd tone", value: "x" },
        { label: "Long", value: `${"y".repeat(STATUS_PANEL_LIMITS.text - 1)}…` },
      ],
      list: { title: "Recent", items: [{ text: "a.jsonl", detail: "100 tweets", tone: "ok" }, { text: "5" }] },
    });
    expect(normalizeStatusPanel(undefined)).toBeUndefined();
    expect(normalizeStatusPanel({ title: "no fields" })).toBeUndefined();
  });

  it("say how many fields were cut", () => {
    const panel = normalizeStatusPanel({ fields: Array.from({ length: 30 }, (_, index) => ({ label: `f${index}`, value: index })) });
    expect(panel?.fields).toHaveLength(STATUS_PANEL_LIMITS.fields + 1);
    expect(panel?.fields.at(-1)).toEqual({ label: "more", value: "6 field(s) not shown" });
  });

  it("read as text lines, tones in words", () => {
    expect(
      statusPanelLines({
        fields: [
          { label: "Tweets", value: 1200, unit: "tweets" },
          { label: "Reset", value: Date.UTC(2026, 0, 1, 12), format: "time" },
          { label: "Cursor", value: null, unit: "pages" },
          { label: "Last error", value: "E_X: boom", tone: "error" },
        ],
        list: { title: "Archives", items: [{ text: "1-10.tar.gz", detail: "10 files" }] },
      }),
    ).toEqual(["Tweets: 1200 tweets", "Reset: 2026-01-01T12:00:00Z", "Cursor: —", "Last error: E_X: boom (error)", "Archives:", "  - 1-10.tar.gz (10 files)"]);
  });
});
