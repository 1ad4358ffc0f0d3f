// The services of a PM2 deployment: `ENABLED_SERVICES=figma,github bun run pm2:config` writes edges for Figma,
// GitHub and custom servers only. Every other setting comes from the environment of `pm2 start`, and before,
// ENABLED_SERVICES did too: started without it (or with another list), the control plane loaded every
// definition, offered services no edge served and handed out their URLs on PUBLIC_EDGE_URL's default, the
// custom-servers edge, which answers every such token 401 INVALID_INSTANCE: connects that worked, URLs that
// never did. The file now pins ENABLED_SERVICES for every process to the services it has an edge for.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { loadRegistry } from "@mcp/services";

const ROOT = resolve(import.meta.dir, "..");
const GENERATOR = join(ROOT, "scripts/pm2-config.ts");
/** PM2 reads the file with Node; Bun runs it too where Node is missing. */
const NODE = Bun.which("node") ?? process.execPath;

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "mcp-pm2-config-"));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const basicEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
  PATH: `${dirname(process.execPath)}:${process.env.PATH ?? "/usr/bin:/bin"}`,
  HOME: tmp,
  ...extra,
});

async function run(cmd: string[], env: Record<string, string>) {
  const proc = Bun.spawn(cmd, { cwd: ROOT, env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [code, out, err] = await Promise.all([
    proc.exited,
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ]);
  return { code, out, err };
}

interface App {
  name: string;
  env: Record<string, string>;
}

async function appsOf(file: string, env: Record<string, string>): Promise<App[]> {
  const res = await run(
    [NODE, "-e", `console.log(JSON.stringify(require(${JSON.stringify(file)}).apps))`],
    env,
  );
  if (res.code !== 0) throw new Error(`loading ${file} failed: ${res.err}`);
  return JSON.parse(res.out) as App[];
}

test("every process loads exactly the services the file has edges for, whatever ENABLED_SERVICES says at start", async () => {
  const file = join(tmp, "ecosystem.config.cjs");
  const gen = await run(
    [process.execPath, GENERATOR, "--out", file],
    basicEnv({ ENABLED_SERVICES: "figma,github" }),
  );
  expect(gen.code).toBe(0);
  const startEnvs: Record<string, string>[] = [
    {},
    { ENABLED_SERVICES: "figma,github,slack" },
    { ENABLED_SERVICES: "figma" },
  ];
  for (const startEnv of startEnvs) {
    const apps = await appsOf(file, basicEnv(startEnv));
    expect(apps.map((a) => a.name)).toEqual([
      "mcp-control-plane",
      "mcp-edge-figma",
      "mcp-edge-github",
      "mcp-edge-custom",
    ]);
    for (const app of apps) {
      expect({ app: app.name, enabled: app.env.ENABLED_SERVICES }).toEqual({
        app: app.name,
        enabled: "figma,github",
      });
      // What the process loads with that environment: the registry of the edges there are.
      expect(
        loadRegistry(undefined, app.env)
          .list()
          .map((s) => s.type),
      ).toEqual(["figma", "github"]);
    }
  }
  // Generated from the whole registry: every definition, pinned all the same.
  const all = join(tmp, "all.config.cjs");
  expect((await run([process.execPath, GENERATOR, "--out", all], basicEnv())).code).toBe(0);
  const every = loadRegistry()
    .list()
    .map((s) => s.type)
    .join(",");
  for (const app of await appsOf(all, basicEnv({ ENABLED_SERVICES: "figma" })))
    expect(app.env.ENABLED_SERVICES).toBe(every);
});
