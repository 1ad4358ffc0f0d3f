/** One page of a cursor-paginated list, as every `*.list` with a cursor answers. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Anything with a `.query(input, opts)` answering pages, e.g. `client.audit.list`. */
export interface PagedProcedure<I, T, O> {
  query(input: I, opts?: O): PromiseLike<Page<T>>;
}

/**
 * Every item of a cursor-paginated list, page after page, following `nextCursor` until it is null:
 *
 * ```ts
 * for await (const event of paginate(client.audit.list, { limit: 100 })) console.log(event.action);
 * ```
 *
 * `input.cursor`, if given, is where it starts. Pages are fetched one at a time, only as they are consumed.
 * It also stops at an empty page and at a cursor it was handed before (the control plane sends neither; a
 * server or proxy that did would otherwise loop forever, an empty page without ever yielding).
 */
export async function* paginate<I, T, O>(
  procedure: PagedProcedure<I, T, O>,
  input: I,
  opts?: O,
): AsyncGenerator<T, void, undefined> {
  let cursor = cursorOf(input);
  const seen = new Set<string>(cursor === undefined ? [] : [cursor]);
  for (;;) {
    const request = (cursor === undefined ? input : { ...input, cursor }) as I;
    const page = await procedure.query(request, opts);
    yield* page.items;
    const next = page.nextCursor;
    if (typeof next !== "string" || page.items.length === 0 || seen.has(next)) return;
    seen.add(next);
    cursor = next;
  }
}

function cursorOf(input: unknown): string | undefined {
  if (typeof input !== "object" || input === null || !("cursor" in input)) return undefined;
  return typeof input.cursor === "string" ? input.cursor : undefined;
}

/**
 * The lists paged by their last item instead of a cursor (`after` / `afterAt`: the item's id and time), with
 * the fields of an item that name it: `orgs.members` and `orgs.memberInstances`.
 */
export const KEYSET_LISTS: Record<string, { id: string; at: string }> = {
  "orgs.members": { id: "userId", at: "joinedAt" },
  "orgs.memberInstances": { id: "instanceId", at: "createdAt" },
};

/** Anything with a `.query(input, opts)` answering an array page, e.g. `client.orgs.members`. */
export interface ArrayProcedure<I, T, O> {
  query(input: I, opts?: O): PromiseLike<T[]>;
}

/**
 * Every item of a list paged by its last item, page after page, until a page is shorter than the input's
 * `limit` (default the server's 1,000): each next page asks for the items after the last one seen, by its id
 * (`keys.id`) and time (`keys.at`). Pages are fetched one at a time, only as they are consumed. A page that
 * ends with the item it was asked to start after (a server or proxy that ignores `after`) ends the walk too.
 */
export async function* paginateAfter<I extends object, T, O>(
  procedure: ArrayProcedure<I, T, O>,
  input: I,
  keys: { id: string; at: string },
  opts?: O,
): AsyncGenerator<T, void, undefined> {
  // The server's page when no limit is given (MAX_LIST_PAGE in @mcp/core, which the SDK does not import).
  const limit = "limit" in input && typeof input.limit === "number" ? input.limit : 1000;
  let request = input;
  let from: unknown[] = [
    "after" in input ? input.after : undefined,
    "afterAt" in input ? input.afterAt : undefined,
  ];
  for (;;) {
    const page = await procedure.query(request, opts);
    yield* page;
    const last = page.at(-1) as Record<string, unknown> | undefined;
    if (page.length < limit || last === undefined) return;
    const next = [last[keys.id], last[keys.at]];
    if (next[0] === from[0] && next[1] === from[1]) return;
    from = next;
    request = { ...input, after: next[0], afterAt: next[1] };
  }
}
