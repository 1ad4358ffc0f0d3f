// The page walkers against servers of the test's own: they follow the pages there are and stop at the end,
// and also when a broken server or proxy would keep them asking forever.
import { describe, expect, test } from "bun:test";
import { type Page, paginate, paginateAfter } from "./paginate.ts";

/** Everything `walk` yields, but at most `max` items (a walk that never ends fails the test, not the run). */
async function collect<T>(walk: AsyncGenerator<T>, max = 50): Promise<T[]> {
  const items: T[] = [];
  for await (const item of walk) {
    items.push(item);
    if (items.length >= max) break;
  }
  return items;
}

/** A cursor-paged procedure answering `pages` in turn (the last one again once they run out). */
function cursorServer(pages: Page<number>[]) {
  const inputs: unknown[] = [];
  return {
    inputs,
    query: async (input: { cursor?: string; limit?: number }) => {
      inputs.push(input);
      const page = pages[Math.min(inputs.length, pages.length) - 1];
      if (!page || inputs.length > 100) throw new Error("asked too often");
      return page;
    },
  };
}

describe("paginate (cursor pages)", () => {
  test("follows nextCursor until it is null, starting at the input's cursor", async () => {
    const server = cursorServer([
      { items: [1, 2], nextCursor: "b" },
      { items: [3, 4], nextCursor: "c" },
      { items: [5], nextCursor: null },
    ]);
    expect(await collect(paginate(server, { limit: 2, cursor: "a" }))).toEqual([1, 2, 3, 4, 5]);
    expect(server.inputs).toEqual([
      { limit: 2, cursor: "a" },
      { limit: 2, cursor: "b" },
      { limit: 2, cursor: "c" },
    ]);
  });

  test("stops at a cursor it was given before (the same one, or a cycle)", async () => {
    const same = cursorServer([
      { items: [1], nextCursor: "a" },
      { items: [2], nextCursor: "a" },
    ]);
    expect(await collect(paginate(same, {}))).toEqual([1, 2]);
    const cycle = cursorServer([
      { items: [1], nextCursor: "a" },
      { items: [2], nextCursor: "b" },
      { items: [3], nextCursor: "a" },
    ]);
    expect(await collect(paginate(cycle, {}))).toEqual([1, 2, 3]);
    expect(cycle.inputs).toHaveLength(3);
  });

  test("stops at an empty page that still names a next cursor (it would spin without ever yielding)", async () => {
    let n = 0;
    const server = {
      query: async () => {
        if (++n > 100) throw new Error("asked too often");
        return n === 1 ? { items: [1], nextCursor: "c1" } : { items: [], nextCursor: `c${n}` };
      },
    };
    expect(await collect(paginate(server, {}))).toEqual([1]);
    expect(n).toBe(2);
  });
});

describe("paginateAfter (pages after the last item)", () => {
  const keys = { id: "id", at: "at" };
  const item = (i: number) => ({ id: `usr_${i}`, at: new Date(Date.UTC(2026, 0, i)).toISOString() });

  test("asks for the items after the last one seen until a page is short", async () => {
    const all = [1, 2, 3, 4, 5].map(item);
    const inputs: Record<string, unknown>[] = [];
    const server = {
      query: async (input: { orgId: string; limit?: number; after?: string }) => {
        inputs.push(input);
        const from = input.after ? all.findIndex((x) => x.id === input.after) + 1 : 0;
        return all.slice(from, from + (input.limit ?? 1000));
      },
    };
    expect(await collect(paginateAfter(server, { orgId: "org_1", limit: 2 }, keys))).toEqual(all);
    expect(inputs.map((i) => i.after ?? null)).toEqual([null, "usr_2", "usr_4"]);
    expect(inputs[1]).toEqual({ orgId: "org_1", limit: 2, after: "usr_2", afterAt: item(2).at });
  });

  test("stops when the server ignores `after` and answers the same full page again", async () => {
    let n = 0;
    const server = {
      query: async () => {
        if (++n > 100) throw new Error("asked too often");
        return [item(1), item(2)];
      },
    };
    const seen = await collect(paginateAfter(server, { orgId: "org_1", limit: 2 }, keys));
    expect(n).toBe(2);
    expect(seen).toHaveLength(4);
  });
});
