import { z } from "zod";
import { ZChangePasswordInput, ZChangePasswordOutput } from "../routers/account/change-password.ts";
import { ZDeleteAccountInput, ZDeleteAccountOutput } from "../routers/account/delete.ts";
import { ZRevokeSessionInput, ZRevokeSessionOutput } from "../routers/account/revoke-session.ts";
import { ZSessionsOutput } from "../routers/account/sessions.ts";
import { ZSignOutEverywhereOutput } from "../routers/account/sign-out-everywhere.ts";
import { defineRoute, type In, type RestRoute } from "./define.ts";

/** The signed-in person's account: password, sessions, deletion (session cookie only, like the procedures). */
export const accountRoutes: RestRoute[] = [
  defineRoute({
    method: "put",
    path: "/account/password",
    operationId: "changePassword",
    summary: "Change your password; every session ends and this one gets a fresh cookie",
    description: "A wrong current password answers 401.",
    tag: "account",
    access: "session",
    procedure: "account.changePassword",
    body: ZChangePasswordInput,
    response: ZChangePasswordOutput,
    errors: ["RATE_LIMIT_EXCEEDED"],
    handle: ({ call, body }) => call.account.changePassword(body as In<"account", "changePassword">),
  }),
  defineRoute({
    method: "get",
    path: "/account/sessions",
    operationId: "listSessions",
    summary: "Your unexpired sessions, newest first",
    tag: "account",
    access: "session",
    procedure: "account.sessions",
    response: z.object({ sessions: ZSessionsOutput }),
    errors: [],
    handle: async ({ call }) => ({ sessions: await call.account.sessions() }),
  }),
  defineRoute({
    method: "delete",
    path: "/account/sessions/:id",
    operationId: "revokeSession",
    summary: "End one of your sessions (ending this one clears its cookie)",
    tag: "account",
    access: "session",
    procedure: "account.revokeSession",
    params: ZRevokeSessionInput,
    response: ZRevokeSessionOutput,
    errors: ["NOT_FOUND"],
    handle: ({ call, params }) => call.account.revokeSession(params as In<"account", "revokeSession">),
  }),
  defineRoute({
    method: "post",
    path: "/account/sign-out-everywhere",
    operationId: "signOutEverywhere",
    summary: "End every session of yours, this one included",
    tag: "account",
    access: "session",
    procedure: "account.signOutEverywhere",
    response: ZSignOutEverywhereOutput,
    errors: [],
    handle: ({ call }) => call.account.signOutEverywhere(),
  }),
  defineRoute({
    method: "post",
    path: "/account/delete",
    operationId: "deleteAccount",
    summary: "Delete your account, its instances and keys (asks for the password)",
    description:
      "A wrong password answers 401 and changes nothing. Every instance URL stops working at once.",
    tag: "account",
    access: "session",
    procedure: "account.delete",
    body: ZDeleteAccountInput,
    response: ZDeleteAccountOutput,
    errors: ["RATE_LIMIT_EXCEEDED"],
    handle: ({ call, body }) => call.account.delete(body as In<"account", "delete">),
  }),
];
