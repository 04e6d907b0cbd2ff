import { existsSync, lstatSync, statSync, watch, type FSWatcher } from "node:fs";
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
 * took 5–7% longer with the folder watched than with the file (0.3–0.4 s, 2 cores). The folder
 * is watched only while the path names no file (removed, not yet written again), and, for
 * a path that is a symbolic link, for the link's name (pointing it elsewhere changes no file;
 * such a config pays those wake-ups again when its database is in the link's folder).
 *
 * `onError`: the watch failed; there is none from then on.
 */
export function watchFile(path: string, onChange: () => void, onError: (error: Error) => void): FileWatch {
  const name = basename(path);
  let closed = false;
  let watchers: FSWatcher[] = [];
  // bumped whenever the watches are replaced: a callback of an older one does nothing
  let generation = 0;

  const stop = () => {
    for (const w of watchers) w.close();
    watchers = [];
    generation++;
  };
  const fail = (error: Error) => {
    stop();
    if (!closed) onError(error);
  };
  const add = (w: FSWatcher) => {
    watchers.push(w);
    w.on("error", fail);
  };

  const watchPath = (): void => {
    const gen = generation;
    // taken before the watch starts: a file replaced in between is caught at the first event
    const inode = inodeAt(path);
    const changed = () => {
      if (gen !== generation) return;
      onChange();
      // replaced, removed, or a link pointed elsewhere: the watch follows the old file, so
      // the path is watched again
      if (inodeAt(path) !== inode) {
        stop();
        watchPath();
      }
    };
    try {
      add(watch(path, changed));
      // a symbolic link can be pointed at another file, which changes nothing the watch of
      // its target sees: its folder is watched for its name too
      if (lstatSync(path).isSymbolicLink()) add(watch(dirname(path), (_event, changedName) => (changedName === null || changedName === name) && changed()));
    } catch (e) {
      stop();
      if ((e as NodeJS.ErrnoException).code === "ENOENT") watchFolder();
      else fail(e as Error);
    }
  };

  // no file at the path: its folder, until a file of that name is there again
  const watchFolder = (): void => {
    const gen = generation;
    const back = () => {
      if (gen !== generation || !existsSync(path)) return;
      stop();
      watchPath();
      onChange();
    };
    try {
      add(watch(dirname(path), (_event, changedName) => (changedName === null || changedName === name) && back()));
    } catch (e) {
      fail(e as Error);
      return;
    }
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
