import type { AppRouter, RouterInputs, RouterOutputs } from "@mcp/control-plane/router";
import { createTRPCClient, httpBatchLink, TRPCClientError } from "@trpc/client";

export type { AppRouter, RouterInputs, RouterOutputs };
export { TRPCClientError };

export interface ClientOptions {
  /** The control plane's base URL, e.g. `https://mcp.example.com` or `http://127.0.0.1:3000`. */
  baseUrl: string;
  /** An API key from `apiKeys.create` (`mcpsk_…`). */
  apiKey: string;
  /** Custom fetch (tests, proxies). */
  fetch?: typeof globalThis.fetch;
}

/**
 * The typed client for integrators: every procedure of the control plane, with inputs and outputs
 * inferred from its router.
 *
 * ```ts
 * const mcp = createClient({ baseUrl, apiKey });
 * const { instanceUrl } = await mcp.instances.connect.mutate({ serviceType: "figma", apiKey: figmaKey });
 * ```
 */
export function createClient(opts: ClientOptions) {
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${opts.baseUrl.replace(/\/+$/, "")}/trpc`,
        headers: { authorization: `Bearer ${opts.apiKey}` },
        ...(opts.fetch && { fetch: opts.fetch }),
      }),
    ],
  });
}
export type McpPlatformClient = ReturnType<typeof createClient>;

/** The platform's error code (`INVALID_API_KEY`, `NOT_FOUND`, …) carried by a failed call, if any. */
export function errorCode(error: unknown): string | undefined {
  if (!(error instanceof TRPCClientError)) return undefined;
  const data: unknown = error.data;
  return typeof data === "object" && data !== null && "appCode" in data ? String(data.appCode) : undefined;
}
