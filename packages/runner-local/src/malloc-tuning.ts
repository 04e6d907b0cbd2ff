/**
 * glibc's malloc settings for the pool's child processes (`GLIBC_TUNABLES`), used when the
 * runner's own environment sets none. A task that parses and moves hundreds of megabytes
 * (the tweet tidier's loads) grows and trims malloc's heaps over and over, and every page it
 * touches afresh costs a page fault, dear on a VM: 55,000–64,000 faults and 0.84–1.25 s of
 * system time in a 163 MB load. `hugetlb=1` lets malloc ask for transparent huge pages
 * (madvise; a kernel whose setting is `never` ignores it), and `top_pad` grows a heap 16 MiB
 * at a time, in whole huge pages: 28,000–33,000 faults and 0.68–1.06 s, ~20 MB more peak
 * RSS, the run 0.2–0.5 s faster (see the README). Either setting alone saved less than a
 * third of the faults. Older glibc skips a name it does not know; other C libraries ignore
 * the variable.
 */
export const TASK_PROCESS_MALLOC_TUNABLES = "glibc.malloc.hugetlb=1:glibc.malloc.top_pad=16777216";

/**
 * The `GLIBC_TUNABLES` a task process gets: the runner's own when it has the variable at
 * all (an empty value included: that is how a user turns the tuning off), else ours.
 */
export function taskProcessMallocTunables(env: NodeJS.ProcessEnv): string {
  return env.GLIBC_TUNABLES ?? TASK_PROCESS_MALLOC_TUNABLES;
}
