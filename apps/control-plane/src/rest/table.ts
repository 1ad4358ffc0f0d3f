import { z } from "zod";
import { ZCreateApiKeyInput, ZCreateApiKeyOutput } from "../routers/api-keys/create.ts";
import { ZListApiKeysOutput } from "../routers/api-keys/list.ts";
import { ZRevokeApiKeyInput, ZRevokeApiKeyOutput } from "../routers/api-keys/revoke.ts";
import { ZMeOutput } from "../routers/auth/me.ts";
import { ZSignInInput, ZSignInOutput } from "../routers/auth/sign-in.ts";
import { ZSignOutOutput } from "../routers/auth/sign-out.ts";
import { ZSignUpInput, ZSignUpOutput } from "../routers/auth/sign-up.ts";
import { ZHealthInput, ZServiceHealthOutput } from "../routers/services/health.ts";
import { ZListServicesOutput } from "../routers/services/list.ts";
import type { RouterInputs } from "../trpc/router.ts";
import { accountRoutes } from "./account.ts";
import { activityRoutes } from "./activity.ts";
import { defineRoute, type RestRoute } from "./define.ts";
import { instanceRoutes } from "./instances.ts";
import { orgRoutes } from "./orgs.ts";

const serviceRoutes: RestRoute[] = [
  defineRoute({
    method: "get",
    path: "/services",
    operationId: "listServices",
    summary: "List the service catalogue",
    description:
      "Every upstream service: its tools, where to get a key, the extra fields it needs, its health.",
    tag: "services",
    access: "public",
    procedure: "services.list",
    response: z.object({ services: ZListServicesOutput }),
    errors: [],
    handle: async ({ call }) => ({ services: await call.services.list() }),
  }),
  defineRoute({
    method: "get",
    path: "/services/:serviceType/health",
    operationId: "getServiceHealth",
    summary: "One service's health: the last check and the recent history",
    tag: "services",
    access: "public",
    procedure: "services.health",
    params: ZHealthInput,
    response: ZServiceHealthOutput,
    errors: ["NOT_FOUND"],
    handle: ({ call, params }) => call.services.health(params as RouterInputs["services"]["health"]),
  }),
];

const apiKeyRoutes: RestRoute[] = [
  defineRoute({
    method: "post",
    path: "/api-keys",
    operationId: "createApiKey",
    summary: "Create an API key (the key is shown once)",
    tag: "api-keys",
    access: "session",
    procedure: "apiKeys.create",
    body: ZCreateApiKeyInput,
    status: 201,
    response: ZCreateApiKeyOutput,
    errors: ["NOT_FOUND", "CONFLICT"],
    handle: ({ call, body }) => call.apiKeys.create(body as RouterInputs["apiKeys"]["create"]),
  }),
  defineRoute({
    method: "get",
    path: "/api-keys",
    operationId: "listApiKeys",
    summary: "List your API keys (never the keys themselves)",
    tag: "api-keys",
    access: "session",
    procedure: "apiKeys.list",
    response: z.object({ apiKeys: ZListApiKeysOutput }),
    errors: [],
    handle: async ({ call }) => ({ apiKeys: await call.apiKeys.list() }),
  }),
  defineRoute({
    method: "delete",
    path: "/api-keys/:id",
    operationId: "revokeApiKey",
    summary: "Revoke an API key; it stops working at once",
    tag: "api-keys",
    access: "session",
    procedure: "apiKeys.revoke",
    params: ZRevokeApiKeyInput,
    response: ZRevokeApiKeyOutput.extend({ message: z.string() }),
    errors: ["NOT_FOUND"],
    handle: async ({ call, params }) => {
      const revoked = await call.apiKeys.revoke(params as RouterInputs["apiKeys"]["revoke"]);
      return { ...revoked, message: "Revoked the API key; it no longer works." };
    },
  }),
];

const authRoutes: RestRoute[] = [
  defineRoute({
    method: "post",
    path: "/auth/sign-up",
    operationId: "signUp",
    summary: "Create an account; answers the user and sets the session cookie",
    tag: "auth",
    access: "public",
    procedure: "auth.signUp",
    body: ZSignUpInput,
    status: 201,
    response: ZSignUpOutput,
    errors: ["CONFLICT", "RATE_LIMIT_EXCEEDED"],
    handle: ({ call, body }) => call.auth.signUp(body as RouterInputs["auth"]["signUp"]),
  }),
  defineRoute({
    method: "post",
    path: "/auth/sign-in",
    operationId: "signIn",
    summary: "Sign in; answers the user and sets the session cookie",
    description: "A wrong email or password answers one and the same 401.",
    tag: "auth",
    access: "public",
    procedure: "auth.signIn",
    body: ZSignInInput,
    response: ZSignInOutput,
    errors: ["RATE_LIMIT_EXCEEDED"],
    handle: ({ call, body }) => call.auth.signIn(body as RouterInputs["auth"]["signIn"]),
  }),
  defineRoute({
    method: "post",
    path: "/auth/sign-out",
    operationId: "signOut",
    summary: "End the session of the cookie sent (and clear the cookie)",
    tag: "auth",
    access: "public",
    procedure: "auth.signOut",
    response: ZSignOutOutput,
    errors: [],
    handle: ({ call }) => call.auth.signOut(),
  }),
  defineRoute({
    method: "get",
    path: "/auth/me",
    operationId: "getMe",
    summary: "The signed-in user (by session or API key), or null",
    tag: "auth",
    access: "public",
    procedure: "auth.me",
    response: z.object({ user: ZMeOutput }),
    errors: [],
    handle: async ({ call }) => ({ user: await call.auth.me() }),
  }),
];

/** Every REST route under /api/v1 (bar the document itself), in the order of the reference. */
export const REST_ROUTES: readonly RestRoute[] = [
  ...serviceRoutes,
  ...instanceRoutes,
  ...apiKeyRoutes,
  ...activityRoutes,
  ...authRoutes,
  ...accountRoutes,
  ...orgRoutes,
];
