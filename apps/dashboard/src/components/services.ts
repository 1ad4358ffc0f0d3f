import type { Service } from "../trpc.ts";

export const CUSTOM_TYPE = "custom";
export const CUSTOM_NAME = "Custom MCP server";

/** Display names by service type, the custom server included. */
export function serviceNames(services: Service[] | undefined): Map<string, string> {
  return new Map([
    [CUSTOM_TYPE, CUSTOM_NAME],
    ...(services ?? []).map((s): [string, string] => [s.type, s.name]),
  ]);
}
