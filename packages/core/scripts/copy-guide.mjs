#!/usr/bin/env node
// Runs before `pnpm pack` / `pnpm publish`: puts the repository's plugin guide into this
// package as docs/plugin-authoring.md, so a plugin author finds it in node_modules/@ujr/core
// (the scaffold's README points there). Relative links, which would break outside the
// repository, become links to the repository on GitHub.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { fileURLToPath } from "node:url";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const repository = "https://github.com/ujr-dev/ujr/blob/main";
const guide = readFileSync(join(packageDir, "..", "..", "docs", "plugin-authoring.md"), "utf8");
const linked = guide.replace(/\]\((?!https?:|#|mailto:)([^)\s]+)\)/g, (_whole, target) => `](${repository}/${posix.normalize(posix.join("docs", target))})`);
mkdirSync(join(packageDir, "docs"), { recursive: true });
writeFileSync(join(packageDir, "docs", "plugin-authoring.md"), `<!-- Copied from ${repository}/docs/plugin-authoring.md when this package was packed. -->\n${linked}`);
