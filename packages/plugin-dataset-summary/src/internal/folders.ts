import { makeFolders, refusalReason, type FolderRefusal } from "@ujr/core/task";

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

/** A folder that could not be made: its message is the refusal in words (`<parent> <why> (<OS error>)`). */
export class FolderRefused extends Error {
  override readonly name = "FolderRefused";
  constructor(readonly refusal: FolderRefusal) {
    super(`${refusal.parent} ${refusalReason(refusal)}`, { cause: refusal.error });
  }
}
