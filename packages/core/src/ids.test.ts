import { describe, expect, test } from "bun:test";
import { newId, newTimeOrderedId } from "./ids.ts";

describe("ids", () => {
  test("a random id: its prefix and 96 random bits, never the same twice", () => {
    const ids = Array.from({ length: 1000 }, () => newId("ins"));
    for (const id of ids) expect(id).toMatch(/^ins_[A-Za-z0-9_-]{16}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test("a time-ordered id sorts as text in the order of its time, and its random part still differs", () => {
    const start = Date.parse("2026-12-01T00:00:00.000Z");
    // Times out of order, across a change in the number of significant hex digits and up to the year 10,000.
    const times = [start + 1, 0, start, 16 ** 10, start + 86_400_000, 253_402_300_800_000, start + 1, 15];
    const ids = times.map((at) => ({ at, id: newTimeOrderedId("evt", at) }));
    for (const { id } of ids) expect(id).toMatch(/^evt_[0-9a-f]{12}[A-Za-z0-9_-]{16}$/);
    const byText = [...ids].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((x) => x.at);
    expect(byText).toEqual([...times].sort((a, b) => a - b));
    // The same millisecond: distinct ids (the random part).
    const same = Array.from({ length: 1000 }, () => newTimeOrderedId("evt", start));
    expect(new Set(same).size).toBe(same.length);
    // Its time is the Unix milliseconds, in hex, where an operator can read it back.
    expect(Number.parseInt(newTimeOrderedId("evt", start).slice(4, 16), 16)).toBe(start);
  });
});
