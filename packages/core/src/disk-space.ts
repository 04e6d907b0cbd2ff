import { statfsSync } from "node:fs";

/**
 * Free bytes on the filesystem of `dir` for this process (root may use the blocks kept for
 * it, others not), or undefined when it cannot be told: for messages about a full disk.
 */
export function freeBytes(dir: string): number | undefined {
  try {
    const s = statfsSync(dir);
    return (process.getuid?.() === 0 ? s.bfree : s.bavail) * s.bsize;
  } catch {
    return undefined;
  }
}

/** A size for a message, in binary units: `512 B`, `3.5 KB`, `29 MB`, `1.2 GB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** The free space of `dir`'s filesystem for a message (`formatBytes`), or undefined when it cannot be told. */
export function freeSpaceText(dir: string): string | undefined {
  const bytes = freeBytes(dir);
  return bytes === undefined ? undefined : formatBytes(bytes);
}

/** The code of an error that says a write found no space, the disk's (ENOSPC) or the user's quota (EDQUOT); else undefined. */
export function noSpaceCode(error: unknown): "ENOSPC" | "EDQUOT" | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ENOSPC" || code === "EDQUOT" ? code : undefined;
}
