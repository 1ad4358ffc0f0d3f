export { createDatabase, type Database, type Db, type DbOptions, type Schema } from "./client.ts";
export { perDatabase } from "./per-database.ts";
export * as schema from "./schema/index.ts";
export * from "./schema/index.ts";
