/** Twitter's snowflake epoch (ms). */
export const TWEPOCH = 1288834974657n;

export function idToMillis(id: bigint): number {
  return Number((id >> 22n) + TWEPOCH);
}

export function millisToId(ms: number): bigint {
  const t = BigInt(Math.floor(ms)) - TWEPOCH;
  return t <= 0n ? 0n : t << 22n;
}

export function isNumericId(value: string): boolean {
  return /^[0-9]{1,19}$/.test(value);
}
