import { createHmac, timingSafeEqual } from "node:crypto";
import type { PaginationConfig } from "./definition.ts";
import { getPath } from "./paths.ts";
import type { PageParam } from "./request.ts";

/** The input property every paginated tool gets. */
export const CURSOR_PROPERTY = {
  type: "string",
  description: "Pass the nextCursor of the previous result to get the next page; omit for the first page.",
  minLength: 1,
  maxLength: 4096,
} as const;

/**
 * Signs a cursor's payload for one credential, service and tool: a cursor only works where it was issued,
 * so the model cannot forge one (a `link` cursor could otherwise name any endpoint of the API).
 */
export type CursorSigner = (payload: string) => string;

/** HMAC-SHA256 keyed by the user's own key, over the service, the tool and the payload (128 bits kept). */
export function cursorSigner(secret: string, service: string, tool: string): CursorSigner {
  return (payload) =>
    createHmac("sha256", secret)
      .update(`${service}\n${tool}\n${payload}`)
      .digest()
      .subarray(0, 16)
      .toString("base64url");
}

/** `c1.<base64url payload>.<mac>`: opaque to the model, and useless anywhere but where it was issued. */
export function encodeCursor(marker: string | number, sign: CursorSigner): string {
  const payload = Buffer.from(JSON.stringify(marker)).toString("base64url");
  return `c1.${payload}.${sign(payload)}`;
}

function decodeCursor(cursor: string, sign: CursorSigner): string | number | undefined {
  const [version, payload, mac, ...rest] = cursor.split(".");
  if (version !== "c1" || !payload || !mac || rest.length > 0) return undefined;
  const expected = Buffer.from(sign(payload));
  const given = Buffer.from(mac);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    return typeof value === "string" || typeof value === "number" ? value : undefined;
  } catch {
    return undefined;
  }
}

const INVALID = { error: "cursor is not a nextCursor this tool returned" } as const;

/**
 * The model's `cursor` as the next request's page marker, once its signature checks out. A `link` cursor
 * is a URL, and must also stay on the service's own base URL.
 */
export function pageFromCursor(
  pagination: PaginationConfig,
  cursor: string,
  baseUrl: string,
  sign: CursorSigner,
): PageParam | { error: string } {
  const marker = decodeCursor(cursor, sign);
  if (marker === undefined) return INVALID;
  if (pagination.type === "link") {
    if (typeof marker !== "string" || !URL.canParse(marker)) return INVALID;
    const url = new URL(marker);
    const base = new URL(`${baseUrl}/`);
    if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) return INVALID;
    return { kind: "url", url };
  }
  if (pagination.type === "cursor") {
    if (typeof marker !== "string" && typeof marker !== "number") return INVALID;
    return { kind: "param", in: pagination.in, param: pagination.param, value: marker };
  }
  if (typeof marker !== "number" || !Number.isSafeInteger(marker) || marker < 0) return INVALID;
  return { kind: "param", in: pagination.in, param: pagination.param, value: marker };
}

/** The `rel="next"` target of an RFC 8288 Link header. */
export function nextLink(link: string | null): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part);
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(match?.[2] ?? "");
    const rels = (rel?.[1] ?? rel?.[2] ?? "").toLowerCase().split(/\s+/);
    if (match && rels.includes("next")) return match[1];
  }
  return undefined;
}

const itemCount = (data: unknown, itemsPath: string | undefined): number => {
  const items = itemsPath ? getPath(data, itemsPath) : data;
  return Array.isArray(items) ? items.length : 0;
};

/**
 * The marker of the page after this one (a URL for `link` paging), or undefined on the last page. The
 * caller signs it (and strips what must not travel in a URL the model sees).
 */
export function nextMarker(
  pagination: PaginationConfig,
  data: unknown,
  link: string | null,
  current: PageParam | undefined,
  baseUrl: string,
): string | number | undefined {
  switch (pagination.type) {
    case "link": {
      const next = nextLink(link);
      return next ? new URL(next, `${baseUrl}/`).toString() : undefined;
    }
    case "cursor": {
      if (pagination.hasMorePath && getPath(data, pagination.hasMorePath) !== true) return undefined;
      const value = getPath(data, pagination.cursorPath);
      if ((typeof value === "string" && value !== "") || typeof value === "number") return value;
      return undefined;
    }
    case "page": {
      const page = current?.kind === "param" ? Number(current.value) : pagination.start;
      return itemCount(data, pagination.itemsPath) > 0 ? page + 1 : undefined;
    }
    case "offset": {
      const offset = current?.kind === "param" ? Number(current.value) : 0;
      const count = itemCount(data, pagination.itemsPath);
      const total = pagination.totalPath ? getPath(data, pagination.totalPath) : undefined;
      if (count === 0 || (typeof total === "number" && offset + count >= total)) return undefined;
      return offset + count;
    }
  }
}
