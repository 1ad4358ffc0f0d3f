// Builds the dashboard with Vite when its build is missing or older than its sources (the build prints the
// first page's gzipped JavaScript and fails past its budget).
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const dashboard = resolve(import.meta.dir, "../apps/dashboard");
/** What the build reads besides `src/`. */
const INPUTS = ["index.html", "vite.config.ts", "package.json"];

function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let t = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    // Unit tests beside the sources are not part of the build.
    if (entry.name.endsWith(".test.ts")) continue;
    t = Math.max(t, newest(join(path, entry.name)));
  }
  return t;
}

export async function ensureDashboardBuilt(): Promise<void> {
  const index = join(dashboard, "dist/index.html");
  const src = join(dashboard, "src");
  if (!existsSync(src)) return;
  const sources = Math.max(newest(src), ...INPUTS.map((f) => newest(join(dashboard, f))));
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  console.log("building dashboard (vite build)...");
  const proc = Bun.spawn(["bun", "run", "build"], {
    cwd: dashboard,
    stdio: ["ignore", "inherit", "inherit"],
  });
  if ((await proc.exited) !== 0) throw new Error("dashboard build failed");
}
