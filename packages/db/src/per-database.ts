import type { Db } from "./client.ts";

/**
 * What `build` makes of a database, made once per database and kept while it lives: for the drizzle prepared
 * queries of the calls every request makes, whose SQL would otherwise be built again each time.
 */
export function perDatabase<T>(build: (db: Db) => T): (db: Db) => T {
  const built = new WeakMap<Db, T>();
  return (db) => {
    const known = built.get(db);
    if (known !== undefined) return known;
    const made = build(db);
    built.set(db, made);
    return made;
  };
}
