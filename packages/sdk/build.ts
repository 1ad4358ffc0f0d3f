// `bun run build`: dist/index.js (ESM for Node and Bun, dependencies left as imports) and the
// declarations (dist/*.d.ts, with `.js` specifiers so any TypeScript module resolution finds them).
// `--outdir <dir>` builds elsewhere (the Node test builds into a folder of its own under dist/).
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const dir = import.meta.dir;
const flag = process.argv.indexOf("--outdir");
const out = resolve(dir, flag > 0 ? (process.argv[flag + 1] ?? "dist") : "dist");
rmSync(out, { recursive: true, force: true });

const built = await Bun.build({
  entrypoints: [join(dir, "src/index.ts")],
  outdir: out,
  target: "node",
  format: "esm",
  packages: "external",
});
if (!built.success) {
  for (const log of built.logs) console.error(log);
  process.exit(1);
}

const tsc = Bun.spawnSync(
  ["bun", require.resolve("typescript/bin/tsc"), "-p", join(dir, "tsconfig.build.json"), "--outDir", out],
  { stdio: ["inherit", "inherit", "inherit"] },
);
if (tsc.exitCode !== 0) process.exit(tsc.exitCode ?? 1);

for (const file of readdirSync(out).filter((f) => f.endsWith(".d.ts"))) {
  const path = join(out, file);
  writeFileSync(path, readFileSync(path, "utf8").replace(/(from "\.\/[\w-]+)\.ts"/g, '$1.js"'));
}
console.log(`built ${out}`);
