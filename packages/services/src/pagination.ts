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

// Cursors are opaque to the model: a versioned base64url of the marker, so nothing invites editing them.
const encode = (marker: string | number): string =>
  `c1.${Buffer.from(JSON.stringify(marker)).toString("base64url")}`;

function decode(cursor: string): string | number | undefined {
  if (!cursor.startsWith("c1.")) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor.slice(3), "base64url").toString("utf8"));
    return typeof value === "string" || typeof value === "number" ? value : undefined;
  } catch {
    return undefined;
  }
}

const INVALID = { error: "cursor is not a nextCursor this tool returned" } as const;

/**
 * The model's `cursor` as the next request's page marker. A `link` cursor is a URL: it must stay on the
 * service's own base URL, so a forged cursor cannot send the user's key to another host or API.
 */
export function pageFromCursor(
  pagination: PaginationConfig,
  cursor: string,
  baseUrl: string,
): PageParam | { error: string } {
  const marker = decode(cursor);
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

/** The cursor of the page after this one, or undefined on the last page. */
export function nextCursor(
  pagination: PaginationConfig,
  data: unknown,
  link: string | null,
  current: PageParam | undefined,
  baseUrl: string,
): string | undefined {
  switch (pagination.type) {
    case "link": {
      const next = nextLink(link);
      if (!next) return undefined;
      const url = new URL(next, `${baseUrl}/`).toString();
      return encode(url);
    }
    case "cursor": {
      if (pagination.hasMorePath && getPath(data, pagination.hasMorePath) !== true) return undefined;
      const value = getPath(data, pagination.cursorPath);
      if ((typeof value === "string" && value !== "") || typeof value === "number") return encode(value);
      return undefined;
    }
    case "page": {
      const page = current?.kind === "param" ? Number(current.value) : pagination.start;
      return itemCount(data, pagination.itemsPath) > 0 ? encode(page + 1) : undefined;
    }
    case "offset": {
      const offset = current?.kind === "param" ? Number(current.value) : 0;
      const count = itemCount(data, pagination.itemsPath);
      const total = pagination.totalPath ? getPath(data, pagination.totalPath) : undefined;
      if (count === 0 || (typeof total === "number" && offset + count >= total)) return undefined;
      return encode(offset + count);
    }
  }
}
