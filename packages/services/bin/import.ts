// `bun run services:import <openapi.json|yaml> --type <name> [--out <dir>] [--base-url <url>] [--force]`:
// writes <out>/<type>/config.json from an OpenAPI 3.0 / 3.1 document. On any error: one line on stderr,
// exit code 1, and nothing written (the file is written under a temporary name and renamed at the end).
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { formatJson } from "../src/openapi/format.ts";
import {
  type ExistingService,
  importOpenApi,
  invalidTypeMessage,
  OpenApiImportError,
  TYPE_PATTERN,
} from "../src/openapi/import.ts";
import { DEFINITIONS_DIR } from "../src/registry.ts";
import { SCHEMA_FILE } from "../src/schema-file.ts";

/** Far above the largest public descriptions (GitHub's is about 12 MB of JSON). */
const MAX_DOCUMENT_BYTES = 64 * 1024 * 1024;

const USAGE =
  "usage: bun run services:import <openapi.json|yaml> --type <name> [--out <dir>] [--base-url <url>] [--force]";

function fail(message: string): never {
  process.stderr.write(`error: ${message.replace(/\s*\n\s*/g, " ")}\n`);
  process.exit(1);
}

// Relative to the working directory when below it, so messages read like the repository layout.
function display(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel === "" || rel.startsWith("..") ? file : rel;
}

/** Every service already defined in `dirs` (broken definitions count with whatever they declare). */
function existingServices(dirs: string[], except: string): ExistingService[] {
  const out: ExistingService[] = [];
  for (const dir of new Set(dirs)) {
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const file = join(dir, entry.name, "config.json");
      if (file === except) continue;
      const config = readJson(file);
      out.push({ type: entry.name, file: display(file) });
      if (config && typeof config.type === "string" && config.type !== entry.name) {
        out.push({ type: config.type, file: display(file) });
      }
      const last = out[out.length - 1];
      if (last && config) {
        if (typeof config.prefix === "string") last.prefix = config.prefix;
        if (typeof config.port === "number") last.port = config.port;
      }
    }
  }
  return out;
}

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(readFileSync(file, "utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function readDocument(path: string): unknown {
  if (!existsSync(path)) fail(`cannot read ${path}: no such file`);
  const stat = statSync(path);
  if (stat.isDirectory()) fail(`cannot read ${path}: it is a directory`);
  // A device or a pipe (/dev/zero, a FIFO) would never end: only regular files are read.
  if (!stat.isFile()) fail(`cannot read ${path}: not a regular file`);
  if (stat.size > MAX_DOCUMENT_BYTES) {
    fail(`cannot read ${path}: ${stat.size} bytes; at most ${MAX_DOCUMENT_BYTES} are read`);
  }
  let text: string;
  try {
    // Editors on Windows save UTF-8 with a byte order mark, which JSON.parse refuses.
    text = readFileSync(path, "utf8").replace(/^\uFEFF/, "");
  } catch (err) {
    fail(`cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (jsonError) {
    if (path.toLowerCase().endsWith(".json")) {
      fail(`${path} is not valid JSON or YAML: ${(jsonError as Error).message}`);
    }
    try {
      value = Bun.YAML.parse(text);
    } catch (yamlError) {
      fail(`${path} is not valid JSON or YAML: ${(yamlError as Error).message}`);
    }
  }
  try {
    // YAML aliases can make a cycle; the parser needs a plain tree.
    return JSON.parse(JSON.stringify(value ?? null));
  } catch (err) {
    fail(
      err instanceof RangeError
        ? `${path} is nested too deeply to read`
        : `${path} is not valid JSON or YAML: it holds a cyclic alias`,
    );
  }
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parse>;
  const parse = () =>
    parseArgs({
      args: process.argv.slice(2),
      allowPositionals: true,
      strict: true,
      options: {
        type: { type: "string" },
        out: { type: "string" },
        "base-url": { type: "string" },
        force: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  try {
    parsed = parse();
  } catch (err) {
    fail(`${err instanceof Error ? err.message : String(err)} (${USAGE})`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (positionals.length !== 1) {
    fail(
      `${positionals.length === 0 ? "no OpenAPI document given" : "give one OpenAPI document"} (${USAGE})`,
    );
  }
  const source = resolve(positionals[0] as string);
  const type = values.type;
  if (type === undefined || type === "")
    fail("--type is required: the new service's type, e.g. --type petstore");
  if (!TYPE_PATTERN.test(type)) fail(invalidTypeMessage(type));

  const outDir = resolve(values.out ?? DEFINITIONS_DIR);
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) {
    fail(`--out ${display(outDir)} is not a folder`);
  }
  const folder = join(outDir, type);
  const file = join(folder, "config.json");
  const exists = existsSync(file);
  if (exists && !values.force) fail(`${display(file)} already exists; pass --force to overwrite it`);
  // Overwriting keeps the earlier import's prefix and port, so issued instance tokens stay valid.
  const previous = exists ? readJson(file) : undefined;
  const existing = existingServices([DEFINITIONS_DIR, outDir], file);
  const document = readDocument(positionals[0] as string);

  let result: Awaited<ReturnType<typeof importOpenApi>>;
  try {
    result = await importOpenApi(document, {
      type,
      baseUrl: values["base-url"],
      existing,
      source,
      schemaRef: relative(folder, fileURLToPath(SCHEMA_FILE)),
      ...(typeof previous?.prefix === "string" &&
        !existing.some((s) => s.prefix === previous.prefix) && { prefix: previous.prefix }),
      ...(typeof previous?.port === "number" &&
        !existing.some((s) => s.port === previous.port) && { port: previous.port }),
    });
  } catch (err) {
    if (err instanceof OpenApiImportError) fail(err.message);
    throw err;
  }

  const createdFolder = !existsSync(folder);
  const temp = join(folder, `.config.json.${process.pid}.tmp`);
  try {
    mkdirSync(folder, { recursive: true });
    writeFileSync(temp, formatJson(result.config));
    renameSync(temp, file);
  } catch (err) {
    rmSync(temp, { force: true });
    if (createdFolder) rmSync(folder, { recursive: true, force: true });
    fail(`cannot write ${display(file)}: ${err instanceof Error ? err.message : String(err)}`);
  }
  for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`);
  const { config } = result;
  console.log(
    `wrote ${display(file)}: ${config.tools.length} tools for ${config.name} (prefix "${config.prefix}", port ${config.port}, ${config.auth.type} auth)`,
  );
  console.log(`validation: ${result.validation}`);
  if (result.warnings.length > 0) {
    console.log(`${result.warnings.length} warning(s) above: review the definition before shipping it`);
  }
}

await main().catch((err) => fail(err instanceof Error ? err.message : String(err)));
