import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const coreDir = fileURLToPath(new URL("../../../core", import.meta.url));
const runnerLocalDir = fileURLToPath(new URL("../..", import.meta.url));
const pluginFixture = fileURLToPath(new URL("./plugin-fixture", import.meta.url));

/**
 * A folder outside the workspace with the fixture plugin installed in its own
 * node_modules (and @ujr/core linked beside it, as a peer), like a user's project.
 * The runner cannot import the plugin by bare name from its own location.
 */
export function projectOutsideWorkspace(options: { withRunner?: boolean } = {}): { dir: string; write(name: string, text: string): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "ujr-project-"));
  const modules = join(dir, "node_modules");
  mkdirSync(join(modules, "@ujr"), { recursive: true });
  mkdirSync(join(modules, "@acme"), { recursive: true });
  symlinkSync(coreDir, join(modules, "@ujr", "core"), "dir");
  // A script composing a runner in code imports @ujr/runner-local from its own project.
  if (options.withRunner) symlinkSync(runnerLocalDir, join(modules, "@ujr", "runner-local"), "dir");
  cpSync(pluginFixture, join(modules, "@acme", "ujr-plugin-fixture"), { recursive: true });
  return {
    dir,
    write(name, text) {
      const path = join(dir, name);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
      return path;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
