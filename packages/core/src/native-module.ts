/**
 * Why a package's compiled (native) part could not be loaded, in words a user can act on.
 *
 * better-sqlite3 compiles its native module in its install script. When that script did not
 * run (npm 11 runs a dependency's install script only when the project approves it, and
 * `--ignore-scripts` skips them all), or ran under another Node.js version or machine
 * (node_modules copied, Node upgraded), the driver's own error is a list of a dozen paths it
 * tried or a line about NODE_MODULE_VERSION: true, but it names neither the cause nor the fix.
 */
export interface NativeModuleProblem {
  /** What is wrong, e.g. "better-sqlite3's native module was never built". */
  reason: string;
  /** The command that mends it. */
  fix: string;
}

/**
 * The problem behind `error` when it comes from loading `moduleName`'s native part, or
 * undefined when it is another error (a file that cannot be opened, a bad path...).
 */
export function nativeModuleProblem(error: unknown, moduleName = "better-sqlite3"): NativeModuleProblem | undefined {
  // errors that crossed a worker boundary arrive as plain objects: read their message too
  const raw = typeof error === "string" ? error : (error as { message?: unknown } | null)?.message;
  const message = typeof raw === "string" ? raw : "";
  const code = (error as { code?: unknown } | null)?.code;
  const rebuild = `npm rebuild ${moduleName}`;
  if (message.startsWith("Could not locate the bindings file")) {
    return {
      reason: `${moduleName}'s native module was never built (its install script did not run: npm 11 runs a dependency's install script only when the project approves it, and --ignore-scripts skips them)`,
      fix: `Build it in the folder where it is installed: ${rebuild} (if npm says its install script is not covered by allowScripts, first: npm install-scripts approve ${moduleName}).`,
    };
  }
  if (/NODE_MODULE_VERSION/.test(message)) {
    return {
      reason: `${moduleName}'s native module was built for another Node.js version than this one (${process.version})`,
      fix: `Rebuild it for this Node.js in the folder where it is installed: ${rebuild}.`,
    };
  }
  if (code === "ERR_DLOPEN_FAILED" || /invalid ELF header|wrong ELF class|not a valid Win32 application|mach-o/i.test(message)) {
    return {
      reason: `${moduleName}'s native module cannot be loaded on this machine (${message.split("\n")[0]}): it was likely built on another system or architecture (node_modules copied from elsewhere)`,
      fix: `Rebuild it here, in the folder where it is installed: ${rebuild}.`,
    };
  }
  return undefined;
}
