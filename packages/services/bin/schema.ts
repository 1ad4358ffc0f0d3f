// `bun run services:schema`: regenerates definition.schema.json from the zod schema (a test fails when stale).
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { definitionJsonSchema, SCHEMA_FILE } from "../src/schema-file.ts";

writeFileSync(SCHEMA_FILE, definitionJsonSchema());
console.log(`wrote ${fileURLToPath(SCHEMA_FILE)}`);
