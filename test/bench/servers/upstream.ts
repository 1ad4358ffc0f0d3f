// Child process: the one fake upstream every server under test calls. The fake Figma REST API (the
// `get_file_nodes` tool's `GET /v1/files/:key/nodes?ids=`, accepting FAKE_FIGMA_KEY) and the fake remote
// MCP server behind the edge's relay scenario, in a process of their own so that neither shares an event
// loop with a server being measured.
import { startFakeFigma } from "../../fakes/figma.ts";
import { startRemoteMcp } from "../../fakes/remote-mcp.ts";
import { ready } from "../common.ts";

const figma = await startFakeFigma();
const remote = await startRemoteMcp();
// Both fakes record every request for tests' assertions; a benchmark sends hundreds of thousands, so the
// records are dropped as they come (otherwise the fake's heap grows and its GC pauses show up as latency).
setInterval(() => {
  figma.requests.length = 0;
  remote.requests.length = 0;
}, 250);

ready({ upstreamUrl: figma.url, remoteMcpUrl: remote.url }, async () => {
  figma.stop();
  await remote.stop();
});
