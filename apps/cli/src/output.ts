export interface Output {
  out(text: string): void;
  err(text: string): void;
}

function writeLine(stream: NodeJS.WriteStream, text: string): void {
  // A stream whose reader went away is destroyed (see dropWritesToClosedPipes): what is
  // left to write is for no one.
  if (!stream.destroyed) stream.write(`${text}\n`);
}

export const stdio: Output = {
  out: (text) => writeLine(process.stdout, text),
  err: (text) => writeLine(process.stderr, text),
};

/**
 * When the reader of ujr's output goes away (`ujr plugins | head -2`, a pager quit early),
 * the next write to that pipe fails with EPIPE. Node ignores SIGPIPE, the signal that
 * ends a C tool there, and reports the failure as an 'error' event on process.stdout or
 * process.stderr instead; with no listener, that event ends the process with a stack trace.
 *
 * ujr takes it as the reader saying "enough": Node destroys the stream, so later writes
 * go nowhere, nothing is printed about it, and the command ends as it would have, with
 * its own exit code. The code keeps its meaning (2 when a plugin could not be loaded, say)
 * and `set -o pipefail` scripts do not fail because `head` stopped reading, where 141
 * (killed by SIGPIPE) would; no command is cut off halfway through its work (`ujr
 * create-plugin` writing files, `ujr demo` its pipeline); and the log lines of `ujr run`
 * and `ujr worker` (pino, on the same file descriptor) already go that way: dropped, the
 * run carrying on until it ends or is stopped.
 *
 * Called by the `ujr` executable (bin.ts), not by main(): a program that imports main()
 * keeps its own handling of its streams.
 */
export function dropWritesToClosedPipes(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      // Only a reader that went away; any other failure stays the crash it was.
      if (error.code !== "EPIPE") throw error;
    });
  }
}
