import { existsSync, lstatSync, realpathSync } from "node:fs";
import { mkdir, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEMO_PLUGINS } from "./config.js";
import { demoError } from "./errors.js";

/** The file that marks a folder as the demo's own: only such a folder is ever cleared. */
export const DEMO_MARKER = ".ujr-demo";

/** Makes `dir` the demo's folder: cleared first unless `keep`, refused when it holds someone else's files. */
export async function prepareDemoFolder(dir: string, keep: boolean): Promise<void> {
  if (existsSync(dir) && !keep) {
    const entries = await readdir(dir);
    if (entries.length > 0 && !entries.includes(DEMO_MARKER)) throw demoError("UJR_DEMO_FOLDER_NOT_OURS", { dir });
    await rm(dir, { recursive: true, force: true });
  }
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, DEMO_MARKER), "made by `ujr demo`; safe to delete\n");
}

/** The folder of a package this package depends on, as Node finds it from here. */
function packageRoot(name: string): string {
  return realpathSync(dirname(fileURLToPath(import.meta.resolve(`${name}/package.json`))));
}

/**
 * Links the plugins the demo depends on into `dir/node_modules`, where the config's
 * package names resolve from (plugins resolve from the config's folder, not from the
 * CLI's install). Without this the demo would work only where a package manager happened
 * to hoist the plugins above the demo folder.
 */
export async function linkPlugins(dir: string): Promise<void> {
  for (const plugin of DEMO_PLUGINS) {
    const target = packageRoot(plugin);
    const link = join(dir, "node_modules", plugin);
    try {
      if (isPresent(link)) {
        if (realpathSync(link) === target) continue;
        await rm(link, { recursive: true, force: true });
      }
      await mkdir(dirname(link), { recursive: true });
      // A junction needs no privileges on Windows; elsewhere the type is ignored.
      await symlink(target, link, "junction");
    } catch (error) {
      throw demoError("UJR_DEMO_LINK_FAILED", { plugin, dir, link, target, reason: (error as Error).message }, { cause: error });
    }
  }
}

function isPresent(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
