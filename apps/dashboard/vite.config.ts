import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import tailwindcss from "@tailwindcss/vite";
import react from "@vitejs/plugin-react";
import { defineConfig, type Plugin } from "vite";

// The control plane serves this build at `/` and the API at `/trpc` on the same origin;
// in `vite dev` the proxy gives the same shape.
const api = process.env.CONTROL_PLANE_URL ?? "http://127.0.0.1:3000";

/** Budget of the JavaScript a first visit loads (the entry chunk and everything it imports statically). */
const FIRST_PAGE_BUDGET_KB = 300;

/** Prints the first page's JavaScript, gzipped, and fails the build past the budget. */
function firstPageSize(): Plugin {
  return {
    name: "first-page-size",
    apply: "build",
    // After writing, from the files on disk: exactly what the control plane serves.
    writeBundle(options, bundle) {
      const dir = options.dir ?? "dist";
      const chunks = new Map<string, { code: string; imports: string[]; isEntry: boolean }>();
      for (const [file, out] of Object.entries(bundle)) {
        if (out.type !== "chunk") continue;
        const code = readFileSync(join(dir, file), "utf8");
        chunks.set(file, { code, imports: out.imports, isEntry: out.isEntry });
      }
      const seen = new Set<string>();
      const visit = (file: string) => {
        if (seen.has(file)) return;
        seen.add(file);
        for (const dep of chunks.get(file)?.imports ?? []) visit(dep);
      };
      for (const [file, chunk] of chunks) if (chunk.isEntry) visit(file);
      let bytes = 0;
      for (const file of seen) bytes += gzipSync(chunks.get(file)?.code ?? "").length;
      // kB of 1,000 bytes, as Vite's own report counts them.
      const kb = bytes / 1000;
      console.log(
        `\nfirst page JS: ${kb.toFixed(1)} kB gzipped in ${seen.size} chunk(s) (budget ${FIRST_PAGE_BUDGET_KB} kB)`,
      );
      if (kb > FIRST_PAGE_BUDGET_KB) this.error(`first page JS is over ${FIRST_PAGE_BUDGET_KB} kB gzipped`);
    },
  };
}

export default defineConfig({
  base: "/",
  plugins: [react(), tailwindcss(), firstPageSize()],
  build: { outDir: "dist", emptyOutDir: true, reportCompressedSize: true },
  // The Host the browser sent is kept (`changeOrigin: false`): the control plane refuses a mutation whose Origin
  // does not match its Host unless that origin is in ALLOWED_ORIGINS, and the string form rewrote Host to `api`.
  server: { host: "127.0.0.1", proxy: { "/trpc": { target: api, changeOrigin: false } } },
});
