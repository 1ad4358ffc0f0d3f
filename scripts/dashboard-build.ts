// Builds the dashboard with Vite when its build is missing or older than its sources.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const dashboard = resolve(import.meta.dir, "../apps/dashboard");

function newest(dir: string): number {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

export async function ensureDashboardBuilt(): Promise<void> {
  const index = join(dashboard, "dist/index.html");
  const src = join(dashboard, "src");
  if (!existsSync(src)) return;
  if (existsSync(index) && statSync(index).mtimeMs >= newest(src)) return;
  console.log("building dashboard (vite build)...");
  const proc = Bun.spawn(["bun", "run", "build"], {
    cwd: dashboard,
    stdio: ["ignore", "inherit", "inherit"],
  });
  if ((await proc.exited) !== 0) throw new Error("dashboard build failed");
}
