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

/**
 * The sum of the files' counts and their failed cases (each `FAILED file:line path: message`), each file read
 * once. A missing file counts as one failure: the run it stands for did not report.
 */
export function summarize(files: string[]): { counts: Counts; failed: string[] } {
  const counts = { passed: 0, failed: 0, skipped: 0 };
  const failed: string[] = [];
  for (const file of files) {
    if (!existsSync(file)) {
      counts.failed += 1;
      continue;
    }
    const xml = readFileSync(file, "utf8");
    const c = countJunit(xml);
    counts.passed += c.passed;
    counts.failed += c.failed;
    counts.skipped += c.skipped;
    for (const line of failedCases(xml)) failed.push(`FAILED ${line}`);
  }
  return { counts, failed };
}

const entities: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
const unescapeXml = (s: string) =>
  s.replace(/&(#(\d+)|amp|lt|gt|quot|apos);/g, (_, name: string, code?: string) =>
    code ? String.fromCharCode(Number(code)) : (entities[name] ?? ""),
  );

/**
 * The failed test cases of one JUnit file, one line each ("file:line describe > test: first line of
 * the message"), so that a red run names what failed next to its summary line.
 */
export function failedCases(xml: string): string[] {
  const out: string[] = [];
  for (const m of xml.matchAll(/<testcase\b([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const body = m[2] ?? "";
    const failure =
      body.match(/<(failure|error)\b[^>]*?message="([^"]*)"/) ?? body.match(/<(failure|error)\b/);
    if (!failure) continue;
    const attrs = m[1] ?? "";
    const attr = (name: string) => unescapeXml(attrs.match(new RegExp(`\\b${name}="([^"]*)"`))?.[1] ?? "");
    const path = attr("classname").split(" > ").reverse().filter(Boolean).concat(attr("name")).join(" > ");
    const message = unescapeXml(failure[2] ?? "")
      .split("\n")
      .find((line) => line.trim())
      ?.trim();
    out.push(`${attr("file")}:${attr("line")} ${path}${message ? `: ${message.slice(0, 300)}` : ""}`);
  }
  return out;
}

export function formatCounts(c: Counts): string {
  return `${c.passed} passed, ${c.failed} failed${c.skipped ? `, ${c.skipped} skipped` : ""}`;
}

if (import.meta.main) {
  const { counts: c, failed } = summarize(Bun.argv.slice(2));
  for (const line of failed) console.log(line);
  console.log(formatCounts(c));
  process.exit(c.failed > 0 || c.passed === 0 ? 1 : 0);
}
