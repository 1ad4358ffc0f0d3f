import { describe, expect, test } from "bun:test";
import { getPath, pickFields, setPath } from "./paths.ts";

describe("dot paths", () => {
  test("getPath reads objects and lists, -1 is the last element", () => {
    const value = { data: [{ id: "a" }, { id: "b" }], errors: [{ message: "m" }] };
    expect(getPath(value, "data.-1.id")).toBe("b");
    expect(getPath(value, "errors.0.message")).toBe("m");
    expect(getPath(value, "data.5.id")).toBeUndefined();
    expect(getPath(value, "constructor")).toBeUndefined();
  });

  test("setPath builds objects, and lists where the next segment is an index", () => {
    const body: Record<string, unknown> = { properties: { title: { type: "title" } } };
    setPath(body, "properties.title.title.0.text.content", "Hello");
    setPath(body, "parent.page_id", "p1");
    expect(body).toEqual({
      properties: { title: { type: "title", title: [{ text: { content: "Hello" } }] } },
      parent: { page_id: "p1" },
    });
  });

  test("setPath never writes a prototype key", () => {
    const body: Record<string, unknown> = {};
    setPath(body, "__proto__.polluted", 1);
    setPath(body, "a.constructor.prototype.polluted", 1);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(body).toEqual({});
  });

  test("pickFields keeps dot paths and maps lists", () => {
    const issues = [
      {
        number: 1,
        title: "A",
        user: { login: "ada", id: 1 },
        labels: [{ name: "bug", color: "f00" }],
        body: "long",
      },
    ];
    expect(pickFields(issues, ["number", "user.login", "labels.name"])).toEqual([
      { number: 1, user: { login: "ada" }, labels: [{ name: "bug" }] },
    ]);
  });
});
