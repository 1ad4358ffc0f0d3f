// Runs every test file with Bun's runner, in parallel workers, and prints one summary line.
// Backends follow the environment: DATABASE_URL / REDIS_URL set → real servers, else embedded.
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ensureChromium } from "./chromium.ts";
import { ensureDashboardBuilt } from "./dashboard-build.ts";
import { formatCounts, summarize } from "./junit-summary.ts";

const root = resolve(import.meta.dir, "..");
const junit = resolve(root, process.env.JUNIT_OUT ?? ".test-results/junit.xml");
mkdirSync(dirname(junit), { recursive: true });

await ensureDashboardBuilt();
await ensureChromium();

const backend = process.env.DATABASE_URL ? "postgres + redis" : "embedded (PGlite + in-process)";
console.log(`running tests on ${backend}`);
const proc = Bun.spawn(
  [
    "bun",
    "test",
    "--timeout=30000",
    "--parallel=2",
    "--reporter=junit",
    `--reporter-outfile=${junit}`,
    ...Bun.argv.slice(2),
  ],
  { cwd: root, stdio: ["inherit", "inherit", "inherit"] },
);
const code = await proc.exited;

const { counts, failed } = summarize([junit]);
for (const line of failed) console.log(line);
console.log(formatCounts(counts));
process.exit(code !== 0 || counts.failed > 0 || counts.passed === 0 ? 1 : 0);
