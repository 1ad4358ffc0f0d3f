// "Test connection": a raw MCP tools/list from the browser to the instance URL, through the edge.

export interface ListedTool {
  name: string;
  description?: string;
}

/** The JSON-RPC message of an answer that is either JSON or an SSE stream of one message. */
async function messageOf(
  res: Response,
): Promise<{ result?: { tools?: ListedTool[] }; error?: { message?: string } }> {
  const text = await res.text();
  if ((res.headers.get("content-type") ?? "").includes("text/event-stream")) {
    const data = text
      .split("\n")
      .filter((l) => l.startsWith("data:"))
      .map((l) => l.slice(5).trim())
      .find((l) => l.startsWith("{"));
    return data ? JSON.parse(data) : {};
  }
  return text ? JSON.parse(text) : {};
}

export class ConnectionTestError extends Error {}

/** Lists the instance's tools as an MCP client of the 2025 era would (stateless: no session needed). */
export async function listTools(instanceUrl: string, signal?: AbortSignal): Promise<ListedTool[]> {
  let res: Response;
  try {
    res = await fetch(instanceUrl, {
      method: "POST",
      credentials: "omit",
      signal,
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": "2025-06-18",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
    });
  } catch {
    throw new ConnectionTestError(
      `Your browser could not reach ${new URL(instanceUrl).origin} from this page. The URL may still work in your MCP client: try the curl command above.`,
    );
  }
  if (res.status === 401)
    throw new ConnectionTestError("The edge refused this URL: it was rotated or revoked.");
  if (res.status === 403) throw new ConnectionTestError("The edge refused requests from this page's origin.");
  if (res.status === 429)
    throw new ConnectionTestError("Too many requests right now: try again in a minute.");
  let message: Awaited<ReturnType<typeof messageOf>>;
  try {
    message = await messageOf(res);
  } catch {
    throw new ConnectionTestError(`The edge answered ${res.status} with something that is not MCP.`);
  }
  if (message.error)
    throw new ConnectionTestError(`The server answered with an error: ${message.error.message ?? "unknown"}`);
  if (!res.ok || !message.result) throw new ConnectionTestError(`The edge answered ${res.status}.`);
  return message.result.tools ?? [];
}
