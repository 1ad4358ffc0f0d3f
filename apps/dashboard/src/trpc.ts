import type { AppRouter } from "@mcp/control-plane/router";
import { createTRPCClient, httpBatchLink, TRPCClientError } from "@trpc/client";
import type { inferRouterOutputs } from "@trpc/server";

export type Outputs = inferRouterOutputs<AppRouter>;
export type Me = NonNullable<Outputs["auth"]["me"]>;
export type Service = Outputs["services"]["list"][number];
export type Instance = Outputs["instances"]["list"][number];
export type ApiKey = Outputs["apiKeys"]["list"][number];
/** What `instances.connect` and `instances.rotate` return; the URL is shown once. */
export type IssuedInstance = Outputs["instances"]["connect"];

export const trpc = createTRPCClient<AppRouter>({
  links: [
    httpBatchLink({
      url: "/trpc",
      // Same origin as the control plane: the session cookie rides along.
      fetch: (url, init) => fetch(url, { ...init, credentials: "same-origin" }),
    }),
  ],
});

/** A human message for anything a call can throw. */
export function errorMessage(err: unknown): string {
  if (err instanceof TRPCClientError) return err.message || "Request failed";
  if (err instanceof Error) return err.message;
  return "Something went wrong";
}
