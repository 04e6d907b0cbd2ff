import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { resolve as resolveEsm } from "import-meta-resolve";
import { installCommand } from "@ujr/runner-local";
import { cliError } from "./errors.js";

/** A package a command loads only when it runs, so that installing the CLI stays small. */
export interface OptionalPackage {
  name: string;
  /** What it is for, shown when it is missing. */
  purpose: string;
}

export const DEMO_PACKAGE: OptionalPackage = { name: "@ujr/demo", purpose: "the demo's pipeline, its plugins and the X API emulator" };
export const BULLMQ_PACKAGE: OptionalPackage = { name: "@ujr/executor-bullmq", purpose: "the distributed executor on BullMQ and Redis" };

/** The folder of this CLI's own install: a package installed beside it (globally, or by npx -p) is found from here. */
const cliFolder = fileURLToPath(new URL("..", import.meta.url)).replace(/[/\\]$/, "");

/** Where `pkg` resolves from the first of `folders` that has it (then from the CLI's install), or undefined. */
export function findPackage(name: string, folders: string[]): string | undefined {
  for (const folder of [...folders, cliFolder]) {
    try {
      return resolveEsm(name, pathToFileURL(join(folder, "__ujr__.js")).href);
    } catch (error) {
      if ((error as { code?: string }).code === "ERR_MODULE_NOT_FOUND") continue;
      throw error;
    }
  }
  return undefined;
}

/**
 * Imports an optional package by name, looking from `folders` (the working folder, or the
 * config's folder) and then from the CLI's own install; when it is absent, says what to
 * install and where (UJR_CLI_PACKAGE_MISSING, exit code 2).
 */
export async function importOptional<Module>(pkg: OptionalPackage, command: string, folders: string[]): Promise<Module> {
  let url: string | undefined;
  try {
    url = findPackage(pkg.name, folders);
  } catch (error) {
    throw cliError("UJR_CLI_PACKAGE_LOAD_FAILED", { command, package: pkg.name, url: folders[0] ?? cliFolder, reason: (error as Error).message }, { cause: error });
  }
  if (!url) {
    const where = folders[0] ?? process.cwd();
    const install = installCommand(pkg.name, where);
    throw cliError("UJR_CLI_PACKAGE_MISSING", {
      command,
      package: pkg.name,
      purpose: pkg.purpose,
      searched: [...folders, cliFolder].map((folder) => join(folder, "node_modules")).join(", ") + " (and node_modules folders above them)",
      install: where === process.cwd() ? install : `cd ${where} && ${install}`,
    });
  }
  try {
    return (await import(url)) as Module;
  } catch (error) {
    throw cliError("UJR_CLI_PACKAGE_LOAD_FAILED", { command, package: pkg.name, url, reason: (error as Error).message }, { cause: error });
  }
}
