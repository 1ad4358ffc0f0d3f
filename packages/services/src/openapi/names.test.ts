import { describe, expect, test } from "bun:test";
import { humanize, inputName, pickPort, pickPrefix, snakeCase, toolName, unique } from "./names.ts";

describe("tool names", () => {
  test("operationIds become snake_case", () => {
    expect(snakeCase("getPetById")).toBe("get_pet_by_id");
    expect(snakeCase("findPetsByStatus")).toBe("find_pets_by_status");
    expect(snakeCase("getHTTPStatus")).toBe("get_http_status");
    expect(snakeCase("List-Users v2")).toBe("list_users_v2");
    expect(snakeCase("repos/get-content")).toBe("repos_get_content");
    expect(toolName("getPetById", "GET", "/pet/{petId}")).toBe("get_pet_by_id");
  });

  test("without an operationId: method and path", () => {
    expect(toolName(undefined, "GET", "/pets/{petId}/photos")).toBe("get_pets_pet_id_photos");
    expect(toolName("", "DELETE", "/")).toBe("delete");
    expect(toolName("!!!", "POST", "/v1/items")).toBe("post_v1_items");
  });

  test("a name starting with a digit gets a prefix; long names are cut at 64", () => {
    expect(toolName("2fa_enable", "POST", "/")).toBe("op_2fa_enable");
    const long = toolName("a".repeat(100), "GET", "/");
    expect(long).toHaveLength(64);
    expect(long).toMatch(/^[a-z][a-z0-9_]{0,63}$/);
  });

  test("duplicates get _2, _3 within 64 characters", () => {
    const taken = new Set<string>();
    expect(unique("list", taken)).toBe("list");
    expect(unique("list", taken)).toBe("list_2");
    expect(unique("list", taken)).toBe("list_3");
    const long = "x".repeat(64);
    expect(unique(long, taken)).toBe(long);
    expect(unique(long, taken)).toBe(`${"x".repeat(62)}_2`);
  });

  test("titles from operationIds", () => {
    expect(humanize("getPetById")).toBe("Get pet by id");
  });
});

describe("input names", () => {
  test("valid names are kept; others are made valid", () => {
    expect(inputName("petId")).toBe("petId");
    expect(inputName("_id")).toBe("_id");
    expect(inputName("X-Request-ID")).toBe("X_Request_ID");
    expect(inputName("filter[status]")).toBe("filter_status");
    expect(inputName("$select")).toBe("_select");
    expect(inputName("2fa")).toBe("_2fa");
    expect(inputName("---")).toBe("value");
    expect(inputName("a".repeat(80))).toHaveLength(64);
  });
});

describe("prefix and port", () => {
  test("the type's letters, else a free variant", () => {
    expect(pickPrefix("petstore", new Set())).toBe("petstore");
    expect(pickPrefix("notes-api", new Set())).toBe("notesapi");
    expect(pickPrefix("my-big-service", new Set())).toBe("mybigser");
    expect(pickPrefix("figma", new Set(["figma"]))).toBe("figm");
    expect(pickPrefix("gh", new Set(["gh"]))).toBe("gha");
    expect(pickPrefix("a1", new Set())).toBe("ax");
    for (const p of [pickPrefix("x9-9", new Set()), pickPrefix("ab", new Set(["ab"]))]) {
      expect(p).toMatch(/^[a-z]{2,8}$/);
    }
  });

  test("the first free port from 3200", () => {
    expect(pickPort(new Set([3101, 3102]))).toBe(3200);
    expect(pickPort(new Set([3200, 3201, 3203]))).toBe(3202);
  });
});
