/**
 * The used-by path's fixture: every publishable package of the workspace packed with
 * `pnpm pack` (what `changeset publish` would upload), and npm projects in temp folders
 * outside the workspace that install those tarballs, as a user's project would, with no
 * workspace links. npm prefers its cache (--prefer-offline): third-party packages come
 * from the registry cache when they are there and from the registry otherwise.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Settings every command of the fixture gets (see `useLocalPrebuilds`). */
const fixtureEnv: NodeJS.ProcessEnv = {};

/**
 * npm settings passed through from the environment (where the registry and its cache are,
 * npm_config_offline=true to forbid the network); the others an outer `npm test` sets
 * (its prefix, the package it runs) must not reach the installs.
 */
const NPM_SETTINGS = new Set(["npm_config_registry", "npm_config_cache", "npm_config_offline", "npm_config_prefer_online", "npm_config_cafile", "npm_config_proxy", "npm_config_https_proxy", "npm_config_noproxy", "npm_config_strict_ssl"]);

/** The environment of a fresh shell: without vitest's or pnpm's own variables, quiet npm, colours off. */
export function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !key.startsWith("VITEST") && key !== "TEST" && key !== "NODE_ENV" && key !== "NODE_PATH" && !key.startsWith("PNPM_") && (!key.startsWith("npm_") || NPM_SETTINGS.has(key.toLowerCase())),
    ),
  );
  // better-sqlite3 may compile from source: point node-gyp at the headers of this Node.
  const prefix = dirname(dirname(process.execPath));
  const headers = existsSync(join(prefix, "include", "node", "node.h")) ? { npm_config_nodedir: prefix } : {};
  return { ...env, ...headers, NO_COLOR: "1", FORCE_COLOR: "0", npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false", ...fixtureEnv, ...extra };
}

/** Commands still running: a failed test must not leave an install compiling in the background. */
const running = new Set<ChildProcess>();

/** Stops every command the fixture started that is still running (with its own children). */
export function stopRunning(): void {
  for (const child of running) {
    try {
      // Each command runs in a process group of its own (detached): end the whole group.
      if (child.pid) process.kill(process.platform === "win32" ? child.pid : -child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  running.clear();
}

/** Runs a command to its end; never throws for a non-zero exit (the caller asserts the code). */
export function runCommand(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    // A process group of its own, so that stopRunning() also ends what it started (node-gyp, cc).
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? userEnv(), detached: process.platform !== "win32", stdio: ["ignore", "pipe", "pipe"] });
    running.add(child);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    const timer = setTimeout(() => {
      stopRunning();
      reject(new Error(`${command} ${args.join(" ")} (in ${options.cwd}) did not end within ${options.timeoutMs ?? 300_000} ms\n${Buffer.concat(stdout).toString()}\n${Buffer.concat(stderr).toString()}`));
    }, options.timeoutMs ?? 300_000);
    child.on("error", (error) => {
      clearTimeout(timer);
      running.delete(child);
      reject(new Error(`${command} ${args.join(" ")} did not run: ${error.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() });
    });
  });
}

/** A command that must succeed: its output is shown when it does not. */
export async function mustRun(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<CommandResult> {
  const result = await runCommand(command, args, options);
  if (result.code !== 0) throw new Error(`${command} ${args.join(" ")} (in ${options.cwd}) exited ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
  return result;
}

/** The workspace's publishable packages (not private): name → folder. */
export function publishablePackages(): Map<string, string> {
  const found = new Map<string, string>();
  for (const group of ["packages", "apps"]) {
    for (const entry of readdirSync(join(repoRoot, group))) {
      const manifestFile = join(repoRoot, group, entry, "package.json");
      if (!existsSync(manifestFile)) continue;
      const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as { name: string; private?: boolean };
      if (!manifest.private) found.set(manifest.name, join(repoRoot, group, entry));
    }
  }
  return found;
}

export interface PackedWorkspace {
  /** Folder holding the tarballs (and the temp projects, below `root`). */
  root: string;
  /** Package name → tarball path. */
  tarballs: Map<string, string>;
  /** Tarball paths of these packages (throws for a name that was not packed). */
  of(...names: string[]): string[];
  /**
   * Tarball paths of these packages and of the workspace packages they depend on, at any
   * depth: what `npm install <names>` needs while the packages are not on the registry.
   */
  withDependencies(...names: string[]): string[];
  /** A new empty npm project in its own temp folder, outside the workspace. */
  project(name: string): NpmProject;
  cleanup(): void;
}

/** Packs every publishable package with `pnpm pack` (they must be built: `turbo run build`). */
export async function packWorkspace(): Promise<PackedWorkspace> {
  // realpath: macOS's tmpdir is a symlink, and paths in output are compared with it.
  const root = realpathSync(mkdtempSync(join(tmpdir(), "ujr-used-by-")));
  await useLocalPrebuilds(root);
  const packs = join(root, "packs");
  const tarballs = new Map<string, string>();
  const packages = [...publishablePackages()];
  // Two at a time: the machine has two cores; core's prepack copies the plugin guide in.
  for (let index = 0; index < packages.length; index += 2) {
    await Promise.all(
      packages.slice(index, index + 2).map(async ([name, folder]) => {
        if (!existsSync(join(folder, "dist"))) throw new Error(`${name} is not built (${folder}/dist is missing): run \`pnpm exec turbo run build\` first`);
        await mustRun("pnpm", ["pack", "--pack-destination", packs], { cwd: folder, env: userEnv() });
        const { version } = JSON.parse(readFileSync(join(folder, "package.json"), "utf8")) as { version: string };
        // npm's tarball name: "@scope/name" → "scope-name-<version>.tgz".
        const tarball = join(packs, `${name.replace(/^@/, "").replace("/", "-")}-${version}.tgz`);
        if (!existsSync(tarball)) throw new Error(`pnpm pack in ${folder} did not write ${tarball}`);
        tarballs.set(name, tarball);
      }),
    );
  }
  const of = (...names: string[]) =>
    names.map((name) => {
      const tarball = tarballs.get(name);
      if (!tarball) throw new Error(`${name} is not a publishable package of the workspace (packed: ${[...tarballs.keys()].join(", ")})`);
      return tarball;
    });
  return {
    root,
    tarballs,
    of,
    withDependencies(...names) {
      const wanted = new Set<string>();
      const visit = (name: string) => {
        if (wanted.has(name)) return;
        const folder = packages.find(([packageName]) => packageName === name)?.[1];
        if (!folder) throw new Error(`${name} is not a publishable package of the workspace`);
        wanted.add(name);
        const manifest = JSON.parse(readFileSync(join(folder, "package.json"), "utf8")) as { dependencies?: Record<string, string>; peerDependencies?: Record<string, string> };
        for (const dependency of Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies })) {
          if (tarballs.has(dependency)) visit(dependency);
        }
      };
      names.forEach(visit);
      return of(...wanted);
    },
    project(name) {
      return npmProject(join(root, name));
    },
    cleanup() {
      stopRunning();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * better-sqlite3 (the tidier's SQLite) installs a prebuilt binary downloaded from GitHub
 * and compiles SQLite from source only when the download fails: minutes on two busy
 * cores. Where GitHub is unreachable (this CI), hand its installer (prebuild-install, via
 * its local-prebuilds setting) the binary the workspace already built for this Node, as
 * the download would have. Versions that differ still install, by compiling. Set
 * UJR_E2E_COMPILE=1 to always compile.
 */
export async function useLocalPrebuilds(root: string): Promise<void> {
  if (process.env.UJR_E2E_COMPILE === "1") return;
  let folder: string;
  try {
    const fromTidier = createRequire(join(repoRoot, "packages/plugin-tweet-tidier/package.json"));
    folder = dirname(fromTidier.resolve("better-sqlite3/package.json"));
  } catch {
    return;
  }
  const binary = join(folder, "build", "Release", "better_sqlite3.node");
  if (!existsSync(binary)) return;
  const { version } = JSON.parse(readFileSync(join(folder, "package.json"), "utf8")) as { version: string };
  const prebuilds = join(root, "prebuilds");
  mkdirSync(prebuilds, { recursive: true });
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  await mustRun("tar", ["-czf", join(prebuilds, name), "-C", folder, "build/Release/better_sqlite3.node"], { cwd: root });
  fixtureEnv.npm_config_better_sqlite3_local_prebuilds = prebuilds;
}

export interface NpmProject {
  dir: string;
  /** `npm install <specs>` here (tarball paths, or names from the registry). */
  install(...specs: string[]): Promise<CommandResult>;
  /** Runs a command here (the user's environment). */
  run(command: string, args: string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv }): Promise<CommandResult>;
  /** Runs an installed binary (node_modules/.bin/<name>) here. */
  bin(name: string, args: string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv }): Promise<CommandResult>;
  /** Writes a file relative to the project (folders made); returns its path. */
  write(file: string, text: string): string;
  /** Installed packages (every node_modules/<name> or <@scope>/<name>, at any depth). */
  installed(): string[];
  /** Bytes of node_modules (file sizes, links not followed). */
  size(): number;
}

/** A new npm project in `dir` (made, with a private package.json). */
export function npmProject(dir: string, manifest: Record<string, unknown> = {}): NpmProject {
  mkdirSync(dir, { recursive: true });
  if (!existsSync(join(dir, "package.json"))) writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "used-by-project", private: true, type: "module", ...manifest }, null, 2));
  const modules = join(dir, "node_modules");
  return {
    dir,
    install: (...specs) => mustRun("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", ...specs], { cwd: dir }),
    run: (command, args, options = {}) => runCommand(command, args, { cwd: options.cwd ?? dir, env: options.env ?? userEnv() }),
    bin: (name, args, options = {}) => runCommand(join(modules, ".bin", name), args, { cwd: options.cwd ?? dir, env: options.env ?? userEnv() }),
    write(file, text) {
      const path = join(dir, file);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
      return path;
    },
    installed() {
      const names: string[] = [];
      const walk = (folder: string) => {
        if (!existsSync(folder)) return;
        for (const entry of readdirSync(folder)) {
          if (entry.startsWith(".")) continue;
          if (entry.startsWith("@")) {
            for (const scoped of readdirSync(join(folder, entry))) visit(join(folder, entry, scoped), `${entry}/${scoped}`);
          } else visit(join(folder, entry), entry);
        }
      };
      const visit = (folder: string, name: string) => {
        names.push(name);
        walk(join(folder, "node_modules"));
      };
      walk(modules);
      return names;
    },
    size() {
      const sum = (path: string): number => {
        const stats = lstatSync(path, { throwIfNoEntry: false });
        if (!stats || stats.isSymbolicLink()) return 0;
        if (!stats.isDirectory()) return stats.size;
        return readdirSync(path).reduce((total, entry) => total + sum(join(path, entry)), 0);
      };
      return existsSync(modules) ? sum(modules) : 0;
    },
  };
}

/** Every file below `dir` whose name ends with `suffix` (native addons: ".node"). */
export function filesEndingWith(dir: string, suffix: string): string[] {
  const found: string[] = [];
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(suffix)) found.push(path);
    }
  };
  if (existsSync(dir)) walk(dir);
  return found;
}
