// `bun run dev`: the whole product in one Bun process (scripts/dev-server.ts). That process serves the edge,
// so it starts with the edge's runtime settings (EDGE_RUNTIME_ENV, read by the runtime at process start):
// when one is missing from the environment, this script starts itself again with it and waits for that
// process, passing Ctrl-C and SIGTERM on. Only the launcher's module is loaded before that. A start that fails
// is one line `dev: …` from the process that serves (dev-server.ts, through startOrExit); this one adds nothing
// and exits with its code.
import { relaunchWithRuntimeEnv } from "../apps/edge/src/runtime-env.ts";

const code = await relaunchWithRuntimeEnv();
if (code !== undefined) process.exit(code);
await import("./dev-server.ts");
