import { cpSync, mkdirSync, realpathSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const cliDir = fileURLToPath(new URL("../..", import.meta.url));

/**
 * The built CLI installed in `projectDir`'s node_modules with its dependencies only (core,
 * runner-local and its two libraries linked from the workspace): as `npm install @ujr/cli`
 * leaves it, without the optional packages (BullMQ, demo, history) the workspace's CLI
 * finds beside itself as dev dependencies. Much cheaper than packing and installing with
 * npm (pack.test.ts) for what only needs those packages absent. Returns the bin to run.
 */
export function installCliAlone(projectDir: string): string {
  const modules = join(projectDir, "node_modules");
  const target = join(modules, "@ujr", "cli");
  mkdirSync(target, { recursive: true });
  cpSync(join(cliDir, "package.json"), join(target, "package.json"));
  cpSync(join(cliDir, "dist"), join(target, "dist"), { recursive: true });
  for (const name of ["@ujr/core", "@ujr/runner-local", "import-meta-resolve", "yaml"]) {
    const link = join(modules, name);
    mkdirSync(dirname(link), { recursive: true });
    try {
      symlinkSync(realpathSync(join(cliDir, "node_modules", name)), link, "dir");
    } catch (error) {
      // projectOutsideWorkspace links @ujr/core already.
      if ((error as { code?: string }).code !== "EEXIST") throw error;
    }
  }
  return join(target, "dist", "bin.js");
}
