import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatBytes, freeBytes } from "./disk-space.js";

describe("disk space in messages", () => {
  it("formats sizes in binary units, one decimal below 10", () => {
    expect([0, 1023, 1024, 3.5 * 1024, 29 * 1024 * 1024, 1.25 * 1024 ** 3, 5 * 1024 ** 5].map(formatBytes)).toEqual(["0 B", "1023 B", "1.0 KB", "3.5 KB", "29 MB", "1.3 GB", "5120 TB"]);
  });

  it("tells the free space of a folder's filesystem, and nothing for a folder that is not there", () => {
    expect(freeBytes(tmpdir())).toBeGreaterThan(0);
    expect(freeBytes(join(tmpdir(), "ujr-no-such-folder", "x"))).toBeUndefined();
  });
});
