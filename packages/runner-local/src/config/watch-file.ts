import { existsSync, statSync, watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";

export interface FileWatch {
  close(): void;
}

const inodeAt = (path: string): number | undefined => {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
};

/**
 * Calls `onChange` when the file at `path` changes: written in place, replaced (an editor
 * writing a new file and renaming it over the old one), or removed and written again.
 *
 * It watches the file itself, not its folder. A folder watch wakes the process for every
 * write to any file beside the config, such as a job's SQLite database and its WAL kept
 * there: the tidier's load of 163 MB woke a watch of its folder some 13,500 times, and `ujr run`
 * took ~0.6 s longer with the folder watched than without a watch, on 2 cores. The folder
 * is watched only while the path names no file (removed, not yet written again).
 *
 * `onError`: the watch failed; there is none from then on.
 */
export function watchFile(path: string, onChange: () => void, onError: (error: Error) => void): FileWatch {
  let closed = false;
  let current: FSWatcher | undefined;

  const stop = () => {
    current?.close();
    current = undefined;
  };
  const fail = (error: Error) => {
    stop();
    if (!closed) onError(error);
  };

  const watchPath = (): void => {
    // taken before the watch starts: a file replaced in between is caught at the first event
    const inode = inodeAt(path);
    let w: FSWatcher;
    try {
      w = watch(path, () => {
        if (current !== w) return;
        onChange();
        // replaced or removed: the watch follows the old file, so the path is watched again
        if (inodeAt(path) !== inode) {
          stop();
          watchPath();
        }
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") watchFolder();
      else fail(e as Error);
      return;
    }
    current = w;
    w.on("error", fail);
  };

  // no file at the path: its folder, until a file of that name is there again
  const watchFolder = (): void => {
    const name = basename(path);
    let w: FSWatcher;
    const back = () => {
      if (current !== w || !existsSync(path)) return false;
      stop();
      watchPath();
      onChange();
      return true;
    };
    try {
      w = watch(dirname(path), (_event, changed) => {
        if (changed === null || changed === name) back();
      });
    } catch (e) {
      fail(e as Error);
      return;
    }
    current = w;
    w.on("error", fail);
    // written again between the failed watch of the file and this one
    back();
  };

  watchPath();
  return {
    close() {
      closed = true;
      stop();
    },
  };
}
