import { describe, expect, it } from "vitest";
import { bullmqJobId, decodeResult, decodeRun, decodeText, encodeResult, encodeRun, encodeText } from "./codec.js";

const ref = { module: "@ujr/plugin-x/tasks", export: "fetchPage" };

describe("bullmqJobId", () => {
  it("is the same for the same identity and differs when the job, code or signature does", () => {
    const id = bullmqJobId({ job: "auspol", ref, signature: "page:1" });
    expect(id).toBe(bullmqJobId({ job: "auspol", ref, signature: "page:1" }));
    expect(id).not.toBe(bullmqJobId({ job: "auspol", ref, signature: "page:2" }));
    expect(id).not.toBe(bullmqJobId({ job: "other", ref, signature: "page:1" }));
    expect(id).not.toBe(bullmqJobId({ job: "auspol", ref: { ...ref, export: "other" }, signature: "page:1" }));
    expect(id).not.toBe(bullmqJobId({ job: "auspol", ref }));
  });

  it("never contains ':' (BullMQ's separator) nor is a plain number", () => {
    const id = bullmqJobId({ job: "weird:name/with spaces", ref, signature: "a:b:c" });
    expect(id).not.toMatch(/:/);
    expect(id).not.toMatch(/^\d+$/);
    expect(id.startsWith("weird_name_with_spaces.")).toBe(true);
  });
});

describe("payloads", () => {
  it("carry runs and outcomes as structured clones (Dates, Maps survive)", () => {
    const run = { id: "r1", job: "j", ref, args: { since: new Date(5), seen: new Map([["a", 1]]) }, signature: "s", attempt: 2, resolveFrom: ["file:///x/"] };
    expect(decodeRun(JSON.parse(JSON.stringify(encodeRun(run))))).toEqual(run);
    const outcome = { ok: true as const, value: { at: new Date(7) } };
    expect(decodeResult(JSON.parse(JSON.stringify(encodeResult(outcome))))).toEqual({ outcome, cancelled: false });
    expect(decodeResult(encodeResult(outcome, true))?.cancelled).toBe(true);
    expect(decodeResult("not a result")).toBeUndefined();
    expect(decodeResult({ ok: true })).toBeUndefined();
  });

  it("keep plain data as plain JSON in the queue, readable there", () => {
    const run = { id: "r1", job: "j", ref, args: { page: 2, query: "auspol" }, attempt: 1, resolveFrom: ["file:///x/"] };
    const data = JSON.parse(JSON.stringify(encodeRun(run)));
    expect(data).toEqual({ job: "j", run: { id: "r1", ref, attempt: 1, resolveFrom: ["file:///x/"], args: [0, { page: 2, query: "auspol" }] } });
    expect(decodeRun(data)).toEqual({ ...run, signature: undefined });
    // A task that returns nothing, and a failure.
    expect(JSON.parse(JSON.stringify(encodeResult({ ok: true, value: undefined })))).toEqual({ ok: true, value: [0] });
    const failure = { name: "Error", message: "boom", code: "E_X", retryable: false };
    expect(decodeResult(JSON.parse(JSON.stringify(encodeResult({ ok: false, error: failure })))))
      .toEqual({ outcome: { ok: false, error: failure }, cancelled: false });
  });
});

describe("text payloads (cancel messages)", () => {
  it("carry a failure through a string", () => {
    const failure = { name: "UjrError", message: "cancelled", code: "UJR_TASK_CANCELLED", details: { at: new Date(3) } };
    expect(decodeText(encodeText(failure))).toEqual(failure);
  });
});
