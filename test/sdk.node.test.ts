// The built SDK (ESM + declarations, `bun run build` in packages/sdk) under plain Node, against a running
// control plane: test/sdk.node.mjs drives it and prints what it saw.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { data, figmaKeyFor, newUser, outputOf, trpc } from "./client.ts";
import { type Stack, startStack } from "./harness.ts";

const SDK_DIR = resolve(import.meta.dir, "../packages/sdk");
// A folder of this run's own under dist/ (ignored by git), so parallel runs never share a build.
const OUT = join(SDK_DIR, "dist", `node-test-${crypto.randomUUID()}`);
let stack: Stack;

beforeAll(async () => {
  const build = Bun.spawnSync(["bun", join(SDK_DIR, "build.ts"), "--outdir", OUT], { stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`SDK build failed: ${build.stderr.toString()}`);
  stack = await startStack();
}, 120_000);
afterAll(async () => {
  rmSync(OUT, { recursive: true, force: true });
  await stack?.stop();
});

test("the build is ESM with declarations for every export", () => {
  const js = readFileSync(join(OUT, "index.js"), "utf8");
  expect(js).toContain("export {");
  expect(js).not.toContain("require(");
  const dts = readFileSync(join(OUT, "index.d.ts"), "utf8");
  for (const name of ["createClient", "paginate", "NotFoundError", "RateLimitError", "McpPlatformClient"]) {
    expect(dts).toContain(name);
  }
  expect(existsSync(join(OUT, "client.d.ts"))).toBe(true);
  expect(dts).toContain('from "./client.js"');
});

test("package.json names files that exist after the build and are packed: Bun's `bun` entry too", () => {
  const pkg = JSON.parse(readFileSync(join(SDK_DIR, "package.json"), "utf8"));
  const targets: string[] = [pkg.main, ...Object.values(pkg.exports["."] as Record<string, string>)];
  const npm = Bun.which("npm");
  expect(npm).not.toBeNull(); // npm comes with Node, which the test below needs as well
  const pack = Bun.spawnSync([npm ?? "npm", "pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: SDK_DIR,
    stderr: "pipe",
  });
  expect(pack.exitCode).toBe(0);
  const packed = new Set<string>(
    JSON.parse(pack.stdout.toString())[0].files.map((f: { path: string }) => f.path),
  );
  for (const target of targets) {
    const path = target.replace(/^\.\//, "");
    if (path.startsWith("dist/")) {
      expect(existsSync(join(OUT, path.slice("dist/".length)))).toBe(true);
    } else {
      // A source entry (Bun loads src/ directly): it and every module it imports are in the package.
      expect(packed.has(path)).toBe(true);
      for (const [, imported] of readFileSync(join(SDK_DIR, path), "utf8").matchAll(
        /from "\.\/([\w-]+\.ts)"/g,
      )) {
        expect(packed.has(`src/${imported}`)).toBe(true);
      }
    }
  }
  expect([...packed].filter((f) => f.endsWith(".test.ts"))).toEqual([]);
});

test("under Node: typed calls, a retried connect replayed once, typed errors, for await over pages", async () => {
  const node = Bun.which("node");
  expect(node).not.toBeNull(); // the SDK is promised to run under Node: install it (>= 20) to run this test
  const user = await newUser(stack);
  const created = await trpc(stack, "apiKeys.create", { name: "node" }, { cookie: user.cookie });
  const apiKey = data<{ key: string }>(created).key;
  const figmaKey = figmaKeyFor(stack, "node-user");
  const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const deadUrl = `http://127.0.0.1:${closed.port}`;
  closed.stop(true);

  const proc = Bun.spawn([node ?? "node", resolve(import.meta.dir, "sdk.node.mjs")], {
    env: {
      PATH: process.env.PATH ?? "",
      SDK_URL: pathToFileURL(join(OUT, "index.js")).href,
      BASE_URL: stack.controlPlaneUrl,
      API_KEY: apiKey,
      FIGMA_KEY: figmaKey,
      DEAD_URL: deadUrl,
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  const { stdout, stderr, code } = await outputOf(proc);
  expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
  const out = JSON.parse(stdout);

  expect(out.node).toMatch(/^v\d+\./);
  expect(out.connected).toMatchObject({ serviceType: "figma" });
  expect(out.connected.instanceUrl).toStartWith(`${stack.edgeUrl}/mcp_fig_`);
  expect(out.attempts).toHaveLength(2);
  expect(out.attempts[1]).toEqual({ key: out.attempts[0].key, replayed: "true" });
  expect(stack.figma.requests.filter((r) => r.token === figmaKey)).toHaveLength(1);
  expect(out.listed).toEqual([
    expect.objectContaining({ instanceId: out.connected.instanceId, isActive: true }),
  ]);

  const typed = { platform: true, trpc: true, requestId: expect.stringMatching(/^req_/) };
  expect(out.validation).toMatchObject({
    ...typed,
    name: "ValidationError",
    code: "BAD_REQUEST",
    status: 400,
  });
  expect(out.validation.issues[0].path).toEqual(["apiKey"]);
  expect(out.notFound).toMatchObject({ ...typed, name: "NotFoundError", code: "NOT_FOUND", status: 404 });
  expect(out.forbidden).toMatchObject({ ...typed, name: "PermissionError", code: "FORBIDDEN", status: 403 });
  expect(out.unauthorized).toMatchObject({ ...typed, name: "AuthenticationError", code: "UNAUTHORIZED" });
  expect(out.timeout).toMatchObject({ name: "TimeoutError", code: "TIMEOUT", platform: true });
  expect(out.connection).toMatchObject({ name: "ConnectionError", code: "CONNECTION_ERROR", platform: true });

  expect(out.badKey).toEqual({ name: "TypeError", leaks: false });
  expect(out.badHeader).toEqual({ name: "McpPlatformError", code: "CLIENT_ERROR", leaks: false });

  expect(out.auditPage.length).toBeGreaterThanOrEqual(3);
  expect(out.auditIds).toEqual(out.auditPage);
  expect(out.helperIds).toEqual(out.auditPage);
}, 60_000);
