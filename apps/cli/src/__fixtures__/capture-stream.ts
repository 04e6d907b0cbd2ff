import { Writable } from "node:stream";

/**
 * A stdout stand-in that keeps what is written, chunk by chunk, and says what kind of
 * terminal it is (`{ isTTY: true, columns, rows }` for a terminal, `{ isTTY: false }` for a pipe).
 */
export function captureStream(kind: { isTTY: boolean; columns?: number; rows?: number }) {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk, _encoding, callback) {
        chunks.push(chunk.toString());
        callback();
      },
    }),
    kind,
  );
  return { stream, chunks, text: () => chunks.join("") };
}
