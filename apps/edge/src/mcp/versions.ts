import type { Server } from "@modelcontextprotocol/server";

export const MODERN_VERSIONS = ["2026-07-28"] as const;
export const LEGACY_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26"] as const;
/** Every revision one instance URL serves; the first 2025 entry is what `initialize` counter-offers. */
export const SUPPORTED_VERSIONS: string[] = [...MODERN_VERSIONS, ...LEGACY_VERSIONS];

/** A Streamable HTTP POST's `Accept` names both media types an answer may come as (else 406, `NOT_ACCEPTABLE`). */
export const acceptsBoth = (accept: string | null): boolean =>
  !!accept && accept.includes("application/json") && accept.includes("text/event-stream");
/** The SDK transport's 406 message, which the edge's own checks answer too. */
export const NOT_ACCEPTABLE =
  "Not Acceptable: Client must accept both application/json and text/event-stream";

type Discover = () => { supportedVersions: string[] } & Record<string, unknown>;

/**
 * The SDK's `server/discover` lists only the 2026 revisions; the contract says it lists every version
 * this URL serves, so a negotiating client learns it can fall back to `initialize` here. The SDK
 * installs its discover handler after our factory runs, so we extend the method it calls instead.
 * (Covered by a test: if an SDK upgrade renames it, that test fails.)
 */
export function advertiseAllVersions(server: Server): void {
  const target = server as unknown as { _ondiscover?: Discover };
  const original = target._ondiscover?.bind(server);
  if (!original) return;
  target._ondiscover = () => {
    const result = original();
    const listed = new Set(result.supportedVersions);
    return {
      ...result,
      supportedVersions: [...result.supportedVersions, ...LEGACY_VERSIONS.filter((v) => !listed.has(v))],
    };
  };
}
