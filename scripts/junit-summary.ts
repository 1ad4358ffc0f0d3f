// Sums JUnit XML files written by `bun test --reporter=junit` into "N passed, N failed[, N skipped]".
import { existsSync, readFileSync } from "node:fs";

export interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

export function countJunit(xml: string): Counts {
  const root = xml.match(/<testsuites\b[^>]*>/)?.[0] ?? "";
  const attr = (name: string) => Number(root.match(new RegExp(`\\b${name}="(\\d+)"`))?.[1] ?? 0);
  const failed = attr("failures") + attr("errors");
  const skipped = attr("skipped");
  return { passed: attr("tests") - failed - skipped, failed, skipped };
}

/** A missing file counts as one failure: the run it stands for did not report. */
export function sumFiles(files: string[]): Counts {
  const total = { passed: 0, failed: 0, skipped: 0 };
  for (const file of files) {
    if (!existsSync(file)) {
      total.failed += 1;
      continue;
    }
    const c = countJunit(readFileSync(file, "utf8"));
    total.passed += c.passed;
    total.failed += c.failed;
    total.skipped += c.skipped;
  }
  return total;
}

export function formatCounts(c: Counts): string {
  return `${c.passed} passed, ${c.failed} failed${c.skipped ? `, ${c.skipped} skipped` : ""}`;
}

if (import.meta.main) {
  const c = sumFiles(Bun.argv.slice(2));
  console.log(formatCounts(c));
  process.exit(c.failed > 0 || c.passed === 0 ? 1 : 0);
}
