/**
 * Runs the official MCP conformance suites against a URL and reads every check's result.
 *
 *   bun run conformance [--target direct|proxied] [--suite 2025|2026|both] [--url <mcp url>]
 *                       [--json <file>] [--out <dir>] [--verbose]
 *
 * - `direct`: the conformance upstream (./upstream.ts) alone.
 * - `proxied`: a whole in-process stack (test/harness.ts, private upstreams allowed), a fresh user, a
 *   custom instance (`instances.connectCustom`) pointing at the upstream; the suites target the instance URL.
 * - `--url`: any MCP endpoint instead (no upstream is started).
 *
 * The suites: `@modelcontextprotocol/conformance` 0.1.16 (2025 era, its default "active" server suite)
 * and 0.2.0-alpha.12 under the npm alias `mcp-conformance-next` (`--spec-version 2026-07-28 --suite all`).
 * Both declare Node >= 22; the machine has Node 20, so their CLI runs under Bun (this process's own
 * runtime, `process.execPath`): nothing is downloaded at run time. `CONFORMANCE_RUNTIME=<node 22 binary>`
 * runs them under another runtime instead.
 *
 * Results are read from each scenario's `checks.json` (the CLI's `-o` output), not from its summary
 * line, because several checks report SUCCESS for any error and a summary hides which.
 */
import { rmSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import type { Stack } from "../harness.ts";
import { compareWithYardstick } from "./expected.ts";

export type SuiteId = "2025" | "2026";
export type CheckStatus = "SUCCESS" | "FAILURE" | "WARNING" | "SKIPPED" | "INFO" | string;

export interface CheckResult {
  scenario: string;
  id: string;
  name: string;
  status: CheckStatus;
  errorMessage?: string;
  feature: string;
}

export interface SuiteResult {
  suite: SuiteId;
  label: string;
  url: string;
  checks: CheckResult[];
  passed: number;
  failed: number;
  /** WARNING, SKIPPED, INFO: neither pass nor fail, listed for the record. */
  other: number;
  /** Exit code of the suite's CLI (non-zero when any check failed). */
  exitCode: number;
  durationMs: number;
  stdout: string;
  stderr: string;
}

const NODE_MODULES = resolve(import.meta.dir, "../node_modules");

export const SUITES: Record<SuiteId, { label: string; cli: string; args: string[] }> = {
  "2025": {
    label: "@modelcontextprotocol/conformance 0.1.16 (2025 era, active suite)",
    cli: join(NODE_MODULES, "@modelcontextprotocol/conformance/dist/index.js"),
    args: [],
  },
  "2026": {
    label: "@modelcontextprotocol/conformance 0.2.0-alpha.12 (--spec-version 2026-07-28 --suite all)",
    cli: join(NODE_MODULES, "mcp-conformance-next/dist/index.js"),
    args: ["--suite", "all", "--spec-version", "2026-07-28"],
  },
};

/** The feature a check exercises, for grouping failures (scenario first, check id where a scenario mixes). */
export function featureOf(scenario: string, checkId: string): string {
  if (scenario === "server-stateless") {
    if (/subscription|list-changed|notification-filter/.test(checkId))
      return "subscriptions/listen + list-changed";
    if (/capability/.test(checkId)) return "client capabilities (-32021)";
    if (/loglevel|log/.test(checkId)) return "logging";
    if (/discover/.test(checkId)) return "server/discover";
    return "stateless core (envelope, versions, errors)";
  }
  const table: [RegExp, string][] = [
    [/^server-initialize$|^ping$/, "lifecycle (initialize, ping)"],
    [/^logging-|with-logging/, "logging"],
    [/^completion-/, "completions"],
    [/with-progress/, "progress"],
    [/^input-required-result-/, "multi-round-trip (input_required: elicitation, sampling, roots)"],
    [/sampling/, "sampling"],
    [/elicitation/, "elicitation"],
    [/^tools-|^json-schema/, "tools"],
    [/subscribe/, "resource subscriptions"],
    [/^resources-|^sep-2164/, "resources"],
    [/^prompts-/, "prompts"],
    [/^server-sse-/, "SSE streams / resumability"],
    [/^caching$/, "caching hints"],
    [/^http-/, "HTTP headers (SEP-2243)"],
    [/^dns-rebinding/, "DNS rebinding protection"],
  ];
  return table.find(([re]) => re.test(scenario))?.[1] ?? "other";
}

/** `server-<scenario>-<ISO timestamp>` → `<scenario>`. */
function scenarioOf(dir: string): string {
  return dir.replace(/^server-/, "").replace(/-\d{4}-\d{2}-\d{2}T[\d-]+Z$/, "");
}

/**
 * Runs one suite's CLI against `url` and reads every check it wrote. However it ends (the checks read,
 * the timeout, `signal` aborted, an error), the CLI process is gone and its temporary output directory
 * removed before this returns or throws; an aborted run rejects with the signal's reason.
 */
export async function runSuite(
  suite: SuiteId,
  url: string,
  opts: { outDir?: string; runtime?: string; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<SuiteResult> {
  const spec = SUITES[suite];
  opts.signal?.throwIfAborted();
  const outDir = opts.outDir
    ? resolve(opts.outDir, suite)
    : await mkdtemp(join(tmpdir(), `conformance-${suite}-`));
  const runtime = opts.runtime ?? process.env.CONFORMANCE_RUNTIME ?? process.execPath;
  const started = performance.now();
  let child: Subprocess<"ignore", "pipe", "pipe"> | undefined;
  let timedOut = false;
  const kill = () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, opts.timeoutMs ?? 300_000);
  opts.signal?.addEventListener("abort", kill, { once: true });
  // A runner that exits mid-run (a bail, an uncaught error) takes the CLI and its files with it.
  const onExit = () => {
    kill();
    if (!opts.outDir) rmSync(outDir, { recursive: true, force: true });
  };
  process.once("exit", onExit);
  try {
    child = Bun.spawn([runtime, spec.cli, "server", "--url", url, ...spec.args, "-o", outDir], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      // Bun as `node`: no colour codes in what we keep.
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
    });
    const [stdout, stderr, exitCode] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    opts.signal?.throwIfAborted();
    if (child.signalCode !== null && !timedOut) {
      // Killed by someone else (a test runner's timeout): what it wrote is not a run of the suite.
      throw new Error(`the ${suite} suite's CLI was killed (${child.signalCode})`);
    }
    const durationMs = performance.now() - started;
    const checks = await readChecks(outDir, stdout);
    if (timedOut) {
      checks.push({
        scenario: "suite",
        id: "suite-timeout",
        name: "suite-timeout",
        status: "FAILURE",
        errorMessage: `the suite's CLI was killed after ${opts.timeoutMs ?? 300_000} ms`,
        feature: "other",
      });
    }
    const passed = checks.filter((c) => c.status === "SUCCESS").length;
    const failed = checks.filter((c) => c.status === "FAILURE").length;
    return {
      suite,
      label: spec.label,
      url,
      checks,
      passed,
      failed,
      other: checks.length - passed - failed,
      exitCode,
      durationMs,
      stdout,
      stderr,
    };
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", kill);
    process.off("exit", onExit);
    kill();
    await child?.exited;
    if (!opts.outDir) await rm(outDir, { recursive: true, force: true });
  }
}

/** Every check of a run, from each scenario's `checks.json` in `outDir`, scenarios in run order. */
async function readChecks(outDir: string, stdout: string): Promise<CheckResult[]> {
  const checks: CheckResult[] = [];
  // In run order: the directory names end with the scenario's start time.
  const startedAt = (dir: string) => dir.match(/\d{4}-\d{2}-\d{2}T[\d-]+Z$/)?.[0] ?? dir;
  const dirs = (await readdir(outDir).catch(() => [] as string[]))
    .filter((d) => d.startsWith("server-"))
    .sort((a, b) => startedAt(a).localeCompare(startedAt(b)));
  for (const dir of dirs) {
    const scenario = scenarioOf(dir);
    const raw = await readFile(join(outDir, dir, "checks.json"), "utf8").catch(() => undefined);
    let parsed: { id: string; name: string; status: string; errorMessage?: string }[] | undefined;
    try {
      parsed = raw === undefined ? undefined : JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    if (!Array.isArray(parsed)) {
      checks.push({
        scenario,
        id: scenario,
        name: scenario,
        status: "FAILURE",
        errorMessage: `the scenario wrote ${raw === undefined ? "no" : "an unreadable"} checks.json`,
        feature: featureOf(scenario, scenario),
      });
      continue;
    }
    for (const c of parsed) {
      checks.push({
        scenario,
        id: c.id,
        name: c.name,
        status: c.status,
        errorMessage: c.errorMessage ?? undefined,
        feature: featureOf(scenario, c.id),
      });
    }
  }
  // Scenarios the CLI reported as crashed leave no directory; keep them visible as failures.
  for (const m of stdout.matchAll(/^Failed to run scenario (\S+):/gm)) {
    const scenario = m[1] ?? "unknown";
    if (!checks.some((c) => c.scenario === scenario)) {
      checks.push({
        scenario,
        id: scenario,
        name: scenario,
        status: "FAILURE",
        errorMessage: "scenario crashed",
        feature: featureOf(scenario, scenario),
      });
    }
  }
  return checks;
}

const MARK: Record<string, string> = { SUCCESS: "✓", FAILURE: "✗", WARNING: "!", SKIPPED: "-", INFO: "i" };

export function formatSuite(result: SuiteResult, opts: { onlyFailures?: boolean } = {}): string {
  const lines = [`## ${result.label}`, `   target ${result.url}`];
  let scenario = "";
  for (const c of result.checks) {
    if (opts.onlyFailures && c.status === "SUCCESS") continue;
    if (c.scenario !== scenario) {
      scenario = c.scenario;
      lines.push(`  ${scenario}`);
    }
    const why =
      c.status !== "SUCCESS" && c.errorMessage
        ? ` — ${c.errorMessage.replace(/\s+/g, " ").slice(0, 240)}`
        : "";
    lines.push(`    ${MARK[c.status] ?? "?"} ${c.status.padEnd(7)} ${c.id}${why}`);
  }
  const failing = result.checks.filter((c) => c.status === "FAILURE");
  if (failing.length > 0) {
    lines.push("  failing checks by feature:");
    const byFeature = new Map<string, CheckResult[]>();
    for (const c of failing) byFeature.set(c.feature, [...(byFeature.get(c.feature) ?? []), c]);
    for (const [feature, list] of [...byFeature].sort((a, b) => b[1].length - a[1].length)) {
      lines.push(`    ${feature} (${list.length}): ${list.map((c) => `${c.scenario}:${c.id}`).join(", ")}`);
    }
  }
  lines.push(
    `  total: ${result.passed} passed, ${result.failed} failed` +
      (result.other ? `, ${result.other} other (warning/skipped/info)` : "") +
      ` — ${(result.durationMs / 1000).toFixed(1)} s, CLI exit ${result.exitCode}`,
  );
  return lines.join("\n");
}

export interface Target {
  url: string;
  description: string;
  stop(): Promise<void>;
}

/** A `proxied` target: what the suites run against, and the parts behind it. */
export interface ProxiedTarget extends Target {
  /** The custom instance's URL (`url`). */
  instanceUrl: string;
  /** The conformance upstream the instance relays to. */
  upstreamUrl: string;
  /** The in-process stack (its own kv prefix; the database follows DATABASE_URL). */
  stack: Stack;
  /** The fresh user who owns the instance. */
  userId: string;
}

/**
 * The `proxied` target: the conformance upstream, a whole in-process stack (private upstreams allowed), a
 * fresh user and a custom instance (`instances.connectCustom`) pointing at the upstream. `stop` stops
 * both, whatever fails; a failed start stops what it had started.
 */
export async function startProxiedTarget(): Promise<ProxiedTarget> {
  const { startConformanceUpstream } = await import("./upstream.ts");
  const { startStack } = await import("../harness.ts");
  const { data, newUser, trpc } = await import("../client.ts");
  const upstream = await startConformanceUpstream();
  let stack: Stack | undefined;
  const stop = async () => {
    try {
      await stack?.stop();
    } finally {
      await upstream.stop();
    }
  };
  try {
    stack = await startStack({ allowPrivateUpstreams: true });
    const user = await newUser(stack);
    const res = await trpc(
      stack,
      "instances.connectCustom",
      { name: "Conformance upstream", url: upstream.url },
      { cookie: user.cookie },
    );
    if (res.status !== 200)
      throw new Error(`connectCustom answered ${res.status}: ${JSON.stringify(res.body)}`);
    const { instanceUrl } = data<{ instanceUrl: string }>(res);
    return {
      url: instanceUrl,
      description: `a custom instance (${instanceUrl.replace(/mcp_cus_[A-Za-z0-9_-]+/, "mcp_cus_…")}) in front of ${upstream.url}`,
      instanceUrl,
      upstreamUrl: upstream.url,
      stack,
      userId: user.userId,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export async function startTarget(kind: "direct" | "proxied"): Promise<Target> {
  if (kind === "proxied") return startProxiedTarget();
  const { startConformanceUpstream } = await import("./upstream.ts");
  const upstream = await startConformanceUpstream();
  return {
    url: upstream.url,
    description: `the conformance upstream alone (${upstream.url})`,
    stop: upstream.stop,
  };
}

function parseArgs(argv: string[]) {
  const opts: {
    target: "direct" | "proxied";
    suites: SuiteId[];
    url?: string;
    json?: string;
    out?: string;
    verbose: boolean;
  } = { target: "direct", suites: ["2025", "2026"], verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === "--target") {
      const v = value();
      if (v !== "direct" && v !== "proxied") throw new Error(`--target is direct or proxied, not ${v}`);
      opts.target = v;
    } else if (arg === "--suite") {
      const v = value();
      if (v === "both") opts.suites = ["2025", "2026"];
      else if (v === "2025" || v === "2026") opts.suites = [v];
      else throw new Error(`--suite is 2025, 2026 or both, not ${v}`);
    } else if (arg === "--url") opts.url = value();
    else if (arg === "--json") opts.json = value();
    else if (arg === "--out") opts.out = value();
    else if (arg === "--verbose") opts.verbose = true;
    else if (arg === "--help" || arg === "-h") {
      console.log(
        "bun run conformance [--target direct|proxied] [--suite 2025|2026|both] [--url <mcp url>] [--json <file>] [--out <dir>] [--verbose]",
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}`);
  }
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const target: Target = opts.url
    ? { url: opts.url, description: opts.url, stop: async () => {} }
    : await startTarget(opts.target);
  const runtime = process.env.CONFORMANCE_RUNTIME ?? `bun ${Bun.version} (${process.execPath})`;
  console.log(
    `conformance: ${opts.url ? "url" : opts.target} — ${target.description}; suites run under ${runtime}\n`,
  );
  const results: SuiteResult[] = [];
  try {
    for (const suite of opts.suites) {
      const result = await runSuite(suite, target.url, { outDir: opts.out });
      results.push(result);
      console.log(formatSuite(result));
      const vs = compareWithYardstick(result);
      console.log(
        `  vs the yardstick (the upstream alone): ${vs.matched} of ${vs.total} expected checks pass` +
          (vs.missing.length ? `; not passing: ${vs.missing.length}` : "") +
          (vs.extra.length ? `; unexpected: ${vs.extra.join(", ")}` : ""),
      );
      if (opts.verbose || result.checks.length === 0) {
        console.log(result.stdout);
        if (result.stderr.trim()) console.error(result.stderr);
      }
      console.log("");
    }
  } finally {
    await target.stop();
  }
  console.log("== totals");
  for (const r of results) {
    const vs = compareWithYardstick(r);
    console.log(
      `  ${r.suite}: ${r.passed} passed, ${r.failed} failed, ${r.other} other; ${vs.matched}/${vs.total} of the yardstick` +
        ` (${(r.durationMs / 1000).toFixed(1)} s)`,
    );
  }
  if (opts.json) {
    await Bun.write(
      opts.json,
      JSON.stringify(
        results.map(({ stdout: _o, stderr: _e, ...r }) => r),
        null,
        2,
      ),
    );
  }
  const ok = results.every((r) => r.failed === 0 && r.checks.length > 0);
  process.exit(ok ? 0 : 1);
}

if (import.meta.main) await main();
