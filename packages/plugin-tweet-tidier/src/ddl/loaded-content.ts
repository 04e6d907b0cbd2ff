// Where bytes of a SHA-256 were loaded before: as a file (source_files) or as an archive's
// member (archive_members, its loaded rows), in the SQL both backends and the parse thread's
// look-up share. `sha` is a parameter or a literal of the caller's dialect.

/** The loaded archive members of bytes `sha`: `id` (the archive's file id) and `at` (`<archive path>#<member>`). */
export const loadedMembersSql = (sha: string): string =>
  `SELECT m."source_file_id" AS "id", f."path" || '#' || m."entry" AS "at" FROM "archive_members" m JOIN "source_files" f ON f."id" = m."source_file_id" WHERE m."sha256" = ${sha} AND m."status" = 'loaded'`;

/** Where bytes `sha` were loaded, as `at`: a file's path, or a loaded member's (no row: never loaded). */
export const loadedAsSql = (sha: string): string =>
  `SELECT "path" AS "at" FROM "source_files" WHERE "sha256" = ${sha} UNION ALL SELECT "at" FROM (${loadedMembersSql(sha)}) AS "members" LIMIT 1`;
