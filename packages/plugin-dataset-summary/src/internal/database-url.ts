/**
 * Whether the `database` setting is a PostgreSQL URL (else a SQLite file). Its own module so
 * that the job, in the runner's process, can tell without loading either driver.
 */
export function isPostgresUrl(database: string): boolean {
  return /^postgres(ql)?:\/\//i.test(database);
}
