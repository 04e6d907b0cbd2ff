/**
 * Whether a process of this machine has the pid `pid` now (signal 0 checks without
 * sending). Only ESRCH says it is gone: EPERM is a live process of another user.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}
