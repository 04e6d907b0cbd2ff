import { makeFolders, refusalReason, removeFolders, type FolderRefusal } from "@ujr/core/task";

/**
 * Makes `dir` and the folders missing above it, one plain mkdir per level (makeFolders of
 * @ujr/core), and returns why it could not, or undefined once it is a folder. Never a
 * recursive mkdir: Node 20's spins for ever at 100% CPU, deaf to SIGTERM, where mkdir
 * answers ENOENT under an existing folder (a kernel filesystem such as /proc). A file where
 * `dir` should be is refused as mkdir refuses it (EEXIST), not taken for the folder.
 */
export function folderRefusal(dir: string): FolderRefusal | undefined {
  const made = makeFolders(dir);
  return "refused" in made ? made.refused : undefined;
}

/**
 * Whether `dir` can be made, found by making it (and the folders missing above it) as a run
 * would (folderRefusal) and removing what was made again: the check when a job is made
 * leaves nothing behind, and a folder that was there is left alone. access(2) of the folder
 * above answers for neither a kernel filesystem (/proc says EACCES, /sys says yes to root)
 * nor a file in the way.
 */
export function checkFolder(dir: string, make: typeof makeFolders = makeFolders): FolderRefusal | undefined {
  const made = make(dir);
  if ("refused" in made) return made.refused;
  removeFolders(made.made);
  return undefined;
}

/** A folder that could not be made: its message is the refusal in words (`<parent> <why> (<OS error>)`). */
export class FolderRefused extends Error {
  override readonly name = "FolderRefused";
  constructor(readonly refusal: FolderRefusal) {
    super(`${refusal.parent} ${refusalReason(refusal)}`, { cause: refusal.error });
  }
}
