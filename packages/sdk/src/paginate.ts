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
 */
export async function* paginate<I, T, O>(
  procedure: PagedProcedure<I, T, O>,
  input: I,
  opts?: O,
): AsyncGenerator<T, void, undefined> {
  let cursor = cursorOf(input);
  for (;;) {
    const request = (cursor === undefined ? input : { ...input, cursor }) as I;
    const page = await procedure.query(request, opts);
    yield* page.items;
    // A server that answers the cursor it was given would loop forever: stop instead.
    if (page.nextCursor === null || page.nextCursor === cursor) return;
    cursor = page.nextCursor;
  }
}

function cursorOf(input: unknown): string | undefined {
  if (typeof input !== "object" || input === null || !("cursor" in input)) return undefined;
  return typeof input.cursor === "string" ? input.cursor : undefined;
}
