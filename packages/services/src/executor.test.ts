import { describe, expect, test } from "bun:test";
import { FAKE_FILE_KEY } from "../../../test/fakes/figma.ts";
import { executeTool } from "./executor.ts";
import { ADA, BOB, TWO_USERS, useFakeFigma } from "./test-fixtures.ts";

const { fake, figma } = useFakeFigma(TWO_USERS);

describe("executeTool: requests", () => {
  const file = FAKE_FILE_KEY;
  test.each([
    ["get_me", {}, "GET", "/v1/me", {}, undefined],
    ["get_file", { file_key: file, depth: 1 }, "GET", `/v1/files/${file}`, { depth: "1" }, undefined],
    [
      "get_file_nodes",
      { file_key: file, ids: "1:2,3:4" },
      "GET",
      `/v1/files/${file}/nodes`,
      { ids: "1:2,3:4" },
      undefined,
    ],
    ["get_comments", { file_key: file }, "GET", `/v1/files/${file}/comments`, {}, undefined],
    [
      "post_comment",
      { file_key: file, message: "Hi" },
      "POST",
      `/v1/files/${file}/comments`,
      {},
      { message: "Hi" },
    ],
    [
      "get_images",
      { file_key: file, ids: "1:2", scale: 2, format: "svg" },
      "GET",
      `/v1/images/${file}`,
      { ids: "1:2", scale: "2", format: "svg" },
      undefined,
    ],
  ])("%s sends the right request with the caller's key", async (tool, args, method, path, query, body) => {
    const outcome = await executeTool(figma(), tool, args, BOB);
    expect(outcome).toMatchObject({ ok: true, status: 200 });
    expect(fake().requests).toHaveLength(1);
    const [req] = fake().requests;
    expect(req).toMatchObject({ method, path, query, token: BOB, body });
    expect(req?.headers.accept).toBe("application/json");
    expect(req?.headers["user-agent"]).toBe("mcp-platform/0.1");
  });

  test("responses come back as parsed Figma JSON", async () => {
    const service = figma();
    expect(await executeTool(service, "get_me", {}, ADA)).toMatchObject({
      ok: true,
      data: { handle: "Ada" },
    });
    const file = await executeTool(service, "get_file", { file_key: FAKE_FILE_KEY, depth: 1 }, ADA);
    expect(file).toMatchObject({
      ok: true,
      data: { name: "Marketing site", document: { type: "DOCUMENT" } },
    });
    const nodes = await executeTool(
      service,
      "get_file_nodes",
      { file_key: FAKE_FILE_KEY, ids: "1:2,9:9" },
      ADA,
    );
    expect(nodes).toMatchObject({
      ok: true,
      data: { nodes: { "1:2": { document: { type: "FRAME" } }, "9:9": null } },
    });
  });

  test("a posted comment shows up in get_comments", async () => {
    const service = figma();
    const args = { file_key: FAKE_FILE_KEY, message: "Looks good", client_meta: { x: 10, y: 20 } };
    const posted = await executeTool(service, "post_comment", args, ADA);
    expect(posted).toMatchObject({ ok: true, data: { message: "Looks good", file_key: FAKE_FILE_KEY } });
    expect(fake().requests[0]?.body).toEqual({ message: "Looks good", client_meta: { x: 10, y: 20 } });
    const list = await executeTool(service, "get_comments", { file_key: FAKE_FILE_KEY }, BOB);
    const comments = list.ok ? (list.data as { comments: unknown[] }).comments : [];
    expect(comments.at(-1)).toMatchObject({ message: "Looks good", user: { handle: "Ada" } });
  });

  test("bad input is rejected before anything is sent", async () => {
    const service = figma();
    for (const args of [
      {},
      { file_key: "a/b" },
      { file_key: FAKE_FILE_KEY, extra: 1 },
      { file_key: "x".repeat(200) },
    ]) {
      expect(await executeTool(service, "get_file", args, ADA)).toMatchObject({
        ok: false,
        error: "BAD_REQUEST",
      });
    }
    const format = await executeTool(
      service,
      "get_images",
      { file_key: "k", ids: "1:2", format: "gif" },
      ADA,
    );
    expect(format).toMatchObject({ ok: false, error: "BAD_REQUEST" });
    expect(await executeTool(service, "nope", {}, ADA)).toMatchObject({ ok: false, error: "BAD_REQUEST" });
    expect(fake().requests).toHaveLength(0);
  });
});
