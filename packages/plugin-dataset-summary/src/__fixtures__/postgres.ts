import pg from "pg";

export const TEST_POSTGRES = process.env.UJR_TEST_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test";

export interface TestSchema {
  /** A connection with rights to build fixtures in the schema. */
  admin: pg.Client;
  schema: string;
  /** The server URL with `search_path` set to the schema: what the plugin is given. */
  url: string;
  /** Drops the schema and closes the connection. */
  drop(): Promise<void>;
}

/** Why a test that needs the test server skips (outside CI=true) when createTestSchema gave none. */
export const NO_POSTGRES = `PostgreSQL does not answer at ${TEST_POSTGRES} (start it or set UJR_TEST_POSTGRES; under CI=true this fails)`;

/**
 * A fresh schema on the test server, or undefined when no server answers. Under CI=true a
 * missing server is an error, never a skip.
 */
export async function createTestSchema(prefix: string): Promise<TestSchema | undefined> {
  const admin = new pg.Client({ connectionString: TEST_POSTGRES, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
  } catch (error) {
    if (process.env.CI === "true") throw new Error(`PostgreSQL at ${TEST_POSTGRES} is required under CI=true: ${(error as Error).message}`);
    console.warn(`skipping the tests that need it: ${NO_POSTGRES}`);
    return undefined;
  }
  const schema = `${prefix}_${process.pid}_${Date.now()}`;
  await admin.query(`CREATE SCHEMA "${schema}"`);
  return {
    admin,
    schema,
    url: `${TEST_POSTGRES}${TEST_POSTGRES.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    async drop() {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    },
  };
}
