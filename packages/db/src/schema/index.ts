export * from "./api-keys.ts";
export * from "./audit-events.ts";
export * from "./credentials.ts";
export * from "./instances.ts";
export * from "./organizations.ts";
export * from "./sessions.ts";
export * from "./usage-rollups.ts";
export * from "./users.ts";
