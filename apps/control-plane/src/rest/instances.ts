import { z } from "zod";
import { ZConnectInput } from "../routers/instances/connect.ts";
import { ZConnectCustomInput, ZConnectCustomOutput } from "../routers/instances/connect-custom.ts";
import { ZDeleteInstanceInput, ZDeleteInstanceOutput } from "../routers/instances/delete.ts";
import { ZGetInstanceInput } from "../routers/instances/get.ts";
import { ZRevokeInstanceInput, ZRevokeInstanceOutput } from "../routers/instances/revoke.ts";
import { ZRotateInstanceInput, ZRotateInstanceOutput } from "../routers/instances/rotate.ts";
import { ZInstanceSummary } from "../routers/instances/schemas.ts";
import {
  ZUpdateCredentialsInput,
  ZUpdateCredentialsOutput,
} from "../routers/instances/update-credentials.ts";
import { ZInstanceSettings, ZUpdateSettingsOutput } from "../routers/instances/update-settings.ts";
import type { RouterInputs } from "../trpc/router.ts";
import { defineRoute, type RestRoute } from "./define.ts";

// The seed's REST answered `lastUsed`; tRPC says `lastUsedAt`. REST answers both, same value.
const ZRestInstance = ZInstanceSummary.extend({ lastUsed: ZInstanceSummary.shape.lastUsedAt });
const withLastUsed = <T extends { lastUsedAt: string | null }>(i: T) => ({ ...i, lastUsed: i.lastUsedAt });
const ZServiceTypeParam = ZGetInstanceInput;
const secretNote = "Keep this URL secret: whoever holds it can use the connected account.";

type In<P extends keyof RouterInputs["instances"]> = RouterInputs["instances"][P];

/** Instances: the personal MCP endpoints, one per user and service. */
export const instanceRoutes: RestRoute[] = [
  defineRoute({
    method: "post",
    path: "/services/:serviceType/authenticate",
    operationId: "connectService",
    summary: "Connect a service with its API key; answers the instance URL (shown once)",
    description:
      "Validates the key with the upstream first. Connecting again replaces the key in place and answers the " +
      "same URL (a new one when the instance was revoked or the key belongs to another upstream account).",
    tag: "instances",
    access: "any",
    scope: "instances:write",
    procedure: "instances.connect",
    params: ZConnectInput.pick({ serviceType: true }),
    body: ZConnectInput.omit({ serviceType: true }),
    response: z.object({ instanceId: z.string(), instanceUrl: z.string(), message: z.string() }),
    errors: ["INVALID_API_KEY", "NOT_FOUND", "RATE_LIMIT_EXCEEDED"],
    handle: async ({ call, params, body }) => {
      const issued = await call.instances.connect({ ...body, ...params } as In<"connect">);
      return {
        instanceId: issued.instanceId,
        instanceUrl: issued.instanceUrl,
        message: `Connected ${issued.serviceType}. ${secretNote}`,
      };
    },
  }),
  defineRoute({
    method: "put",
    path: "/services/:serviceType/credentials",
    operationId: "updateCredentials",
    summary: "Replace an instance's key; the instance URL stays the same",
    description:
      "Validated upstream and sealed in place; `needs_reauth` clears; additional fields not given are kept. " +
      "A key of another upstream account answers 409 (connect instead, which issues a new URL).",
    tag: "instances",
    access: "any",
    scope: "instances:write",
    procedure: "instances.updateCredentials",
    params: ZUpdateCredentialsInput.pick({ serviceType: true }),
    body: ZUpdateCredentialsInput.omit({ serviceType: true }),
    response: ZUpdateCredentialsOutput.extend({ message: z.string() }),
    errors: ["INVALID_API_KEY", "NOT_FOUND", "CONFLICT", "RATE_LIMIT_EXCEEDED"],
    handle: async ({ call, params, body }) => {
      const updated = await call.instances.updateCredentials({
        ...body,
        ...params,
      } as In<"updateCredentials">);
      return {
        ...updated,
        message: `Updated the ${updated.serviceType} credentials; the instance URL is unchanged.`,
      };
    },
  }),
  defineRoute({
    method: "get",
    path: "/services/:serviceType/instance",
    operationId: "getInstance",
    summary: "Your instance of a service (never its URL)",
    tag: "instances",
    access: "any",
    scope: "instances:read",
    procedure: "instances.get",
    params: ZServiceTypeParam,
    response: ZRestInstance,
    errors: ["NOT_FOUND"],
    handle: async ({ call, params }) => withLastUsed(await call.instances.get(params as In<"get">)),
  }),
  defineRoute({
    method: "post",
    path: "/services/:serviceType/instance/rotate",
    operationId: "rotateInstance",
    summary: "Issue a new instance URL (shown once); the old one stops working at once",
    tag: "instances",
    access: "any",
    scope: "instances:write",
    procedure: "instances.rotate",
    params: ZRotateInstanceInput,
    response: ZRotateInstanceOutput.extend({ message: z.string() }),
    errors: ["NOT_FOUND"],
    handle: async ({ call, params }) => {
      const issued = await call.instances.rotate(params as In<"rotate">);
      return { ...issued, message: `Rotated the ${issued.serviceType} instance URL. ${secretNote}` };
    },
  }),
  defineRoute({
    method: "patch",
    path: "/services/:serviceType/instance/settings",
    operationId: "updateInstanceSettings",
    summary: "Change an instance's display name, tool allowlist, read-only mode or rate limit",
    description:
      "Each field omitted is unchanged; `null` puts it back to the default (every tool, not read-only, the " +
      "platform's rate limit, the service's name). Allowlisted names must be tools of the service (any well-formed name for " +
      "proxied and custom servers). The URL stays the same; every edge applies the change to its next request.",
    tag: "instances",
    access: "any",
    scope: "instances:write",
    procedure: "instances.updateSettings",
    params: ZServiceTypeParam,
    body: ZInstanceSettings,
    response: ZUpdateSettingsOutput,
    errors: ["NOT_FOUND"],
    handle: ({ call, params, body }) =>
      call.instances.updateSettings({ ...body, ...params } as In<"updateSettings">),
  }),
  defineRoute({
    method: "delete",
    path: "/services/:serviceType/instance",
    operationId: "revokeInstance",
    summary: "Revoke your instance of a service; its URL stops working at once, everywhere",
    tag: "instances",
    access: "any",
    scope: "instances:write",
    procedure: "instances.revoke",
    params: ZRevokeInstanceInput,
    response: ZRevokeInstanceOutput.extend({ message: z.string() }),
    errors: ["NOT_FOUND"],
    handle: async ({ call, params }) => {
      const { instanceId } = await call.instances.revoke(params as In<"revoke">);
      return { message: `Revoked the ${params.serviceType} instance; its URL no longer works.`, instanceId };
    },
  }),
  defineRoute({
    method: "post",
    path: "/services/:serviceType/instance/delete",
    operationId: "deleteInstance",
    summary: "Delete your instance of a service and erase its credential; its URL stops working at once",
    description:
      "Live or revoked. The instance and its sealed credential are deleted, not flagged. Connecting the " +
      "service again makes a new instance with a new URL. (`DELETE` on the instance revokes it instead.)",
    tag: "instances",
    access: "any",
    scope: "instances:write",
    procedure: "instances.delete",
    params: ZDeleteInstanceInput,
    response: ZDeleteInstanceOutput.extend({ message: z.string() }),
    errors: ["NOT_FOUND"],
    handle: async ({ call, params }) => {
      const { instanceId } = await call.instances.delete(params as In<"delete">);
      return {
        message: `Deleted the ${params.serviceType} instance and erased its credential; its URL no longer works.`,
        instanceId,
      };
    },
  }),
  defineRoute({
    method: "get",
    path: "/user/instances",
    operationId: "listInstances",
    summary: "All your instances",
    tag: "instances",
    access: "any",
    scope: "instances:read",
    procedure: "instances.list",
    response: z.object({ instances: z.array(ZRestInstance) }),
    errors: [],
    handle: async ({ call }) => ({ instances: (await call.instances.list()).map(withLastUsed) }),
  }),
  defineRoute({
    method: "post",
    path: "/instances/custom",
    operationId: "connectCustom",
    summary: "Put your own remote MCP server behind a personal instance URL (shown once)",
    description:
      "Streamable HTTP or legacy SSE; `url` must pass the SSRF rules (unless the deployment allows private " +
      "upstreams); `headers` are sealed like API keys. Manage it afterwards as service type `custom`.",
    tag: "instances",
    access: "any",
    scope: "instances:write",
    procedure: "instances.connectCustom",
    body: ZConnectCustomInput,
    response: ZConnectCustomOutput.extend({ message: z.string() }),
    errors: ["INVALID_API_KEY", "NOT_FOUND", "RATE_LIMIT_EXCEEDED"],
    handle: async ({ call, body }) => {
      const issued = await call.instances.connectCustom(body as In<"connectCustom">);
      return { ...issued, message: `Connected your MCP server. ${secretNote}` };
    },
  }),
];
