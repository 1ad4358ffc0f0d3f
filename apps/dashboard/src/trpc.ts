import type { AppRouter } from "@mcp/control-plane/router";
import { MutationCache, QueryCache, QueryClient } from "@tanstack/react-query";
import { createTRPCClient, httpBatchLink, TRPCClientError } from "@trpc/client";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import { createTRPCContext } from "@trpc/tanstack-react-query";
import { activeOrg } from "./org.ts";

export type Inputs = inferRouterInputs<AppRouter>;
export type Outputs = inferRouterOutputs<AppRouter>;
export type Me = NonNullable<Outputs["auth"]["me"]>;
export type Service = Outputs["services"]["list"][number];
export type Instance = Outputs["instances"]["list"][number];
export type ApiKey = Outputs["apiKeys"]["list"][number];
export type AuditEvent = Outputs["audit"]["list"]["items"][number];
/** What `instances.connect` and `instances.rotate` return; the URL is shown once. */
export type IssuedInstance = Outputs["instances"]["connect"];
export type Org = Outputs["orgs"]["list"][number];

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

export interface ErrorHooks {
  /**
   * Every answer that says UNAUTHORIZED, from a query or a mutation: the session may have ended (signed out
   * elsewhere, expired), or it was a wrong password.
   */
  onUnauthorized?: () => void;
  /**
   * Every answer that says NOT_FOUND: the organisation the dashboard acts in may be gone for this user (removed
   * elsewhere: every call in it answers 404), or the item asked for is.
   */
  onNotFound?: () => void;
}

/**
 * The dashboard's query client. A mutation refused with NOT_FOUND acted on something already gone (deleted,
 * revoked or removed in another tab or by someone else): what is on screen is stale, so every query is asked
 * again and the page shows what is there now.
 */
export function makeQueryClient(hooks: ErrorHooks = {}): QueryClient {
  const onError = (err: unknown) => {
    const code = errorInfo(err).code;
    if (code === "UNAUTHORIZED") hooks.onUnauthorized?.();
    if (code === "NOT_FOUND") hooks.onNotFound?.();
  };
  const queryClient: QueryClient = new QueryClient({
    queryCache: new QueryCache({ onError }),
    mutationCache: new MutationCache({
      onError: (err) => {
        onError(err);
        if (errorInfo(err).code === "NOT_FOUND") void queryClient.invalidateQueries();
      },
    }),
    defaultOptions: {
      queries: {
        // Cached data shows at once, and every page asks again when it opens.
        staleTime: 0,
        refetchOnWindowFocus: false,
        // A 4xx will not get better by asking again.
        retry: (count, err) => count < 2 && (errorInfo(err).status ?? 500) >= 500,
      },
    },
  });
  return queryClient;
}

export function makeTrpcClient() {
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: "/trpc",
        headers: () => {
          const org = activeOrg();
          return org ? { "x-org-id": org } : {};
        },
        // Same origin as the control plane: the session cookie rides along.
        fetch: (url, init) => fetch(url, { ...init, credentials: "same-origin" }),
      }),
    ],
  });
}

export interface ErrorInfo {
  message: string;
  /** The platform's error code (`INVALID_API_KEY`, `UNAUTHORIZED`, ...). */
  code?: string;
  status?: number;
  /** The answer's X-Request-Id, to quote to support. */
  requestId?: string;
  /** The input field a refused input is about (`newPassword`, `additionalCredentials.site`), when one is named. */
  field?: string;
}

/** Everything worth showing about a failed call, in plain words. */
export function errorInfo(err: unknown): ErrorInfo {
  if (err instanceof TRPCClientError) {
    const data = err.data as
      | { appCode?: string; httpStatus?: number; issues?: { path?: unknown[] }[] }
      | undefined;
    const meta = err.meta as { response?: Response } | undefined;
    const requestId = meta?.response?.headers?.get("x-request-id") ?? undefined;
    let message =
      err.message && err.message !== "Failed to fetch" ? err.message : "Could not reach the server.";
    // The validator names the field first (`newPassword: …`): the field is kept apart, the message without it.
    const path = data?.issues?.[0]?.path;
    const field = Array.isArray(path) && path.length > 0 ? path.join(".") : undefined;
    if (field && message.startsWith(`${field}: `)) message = message.slice(field.length + 2);
    return {
      message: tidy(message),
      code: data?.appCode,
      status: data?.httpStatus,
      requestId,
      ...(field && { field }),
    };
  }
  if (err instanceof Error) return { message: tidy(err.message) };
  return { message: "Something went wrong." };
}

/** One sentence, one final full stop: upstream messages arrive in many shapes. */
function tidy(message: string): string {
  const trimmed = message.trim().replace(/\s+/g, " ");
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}
