// The Notion service end to end: keys validated against GET /v1/users/me, every tool called through a real
// MCP client against a fake shaped like the Notion API (2022-06-28), cursor pagination in the query and in
// the body, per-user keys, refused input, Notion's error objects, rate limits and a revoked integration.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Client } from "@modelcontextprotocol/client";
import { data, trpc } from "../client.ts";
import {
  type FakeNotion,
  NOTION_VERSION,
  type NotionSeed,
  notionError,
  rateLimited,
  startNotionFake,
} from "../fakes/notion.ts";
import type { RecordedUpstreamRequest } from "../fakes/upstream.ts";
import { json } from "../fakes/upstream.ts";
import type { Stack } from "../harness.ts";
import {
  callTool,
  connectRaw,
  expectInvalidParams,
  expectOnlyCredential,
  newUser,
  startServiceStack,
  type TestUser,
  userWithInstance,
} from "./kit.ts";

let fake: FakeNotion;
let stack: Stack;

beforeAll(async () => {
  fake = await startNotionFake();
  stack = await startServiceStack("notion", fake.url);
});
afterAll(async () => {
  await stack.stop();
  fake.stop();
});

/** A fresh integration secret (fake, never a real one) with its own workspace. */
function notionKey(who: string): { key: string; seed: NotionSeed } {
  const key = `ntn_fake_${crypto.randomUUID().replaceAll("-", "")}`;
  return { key, seed: fake.addKey(key, who) };
}

interface Connected {
  key: string;
  seed: NotionSeed;
  user: TestUser;
  client: Client;
}

async function connected(who: string): Promise<Connected> {
  const { key, seed } = notionKey(who);
  const { user, client } = await userWithInstance(stack, "notion", key);
  return { key, seed, user, client };
}

/** The requests the fake got with this key after `mark`. */
const sent = (key: string, mark: number): RecordedUpstreamRequest[] =>
  fake.requests.slice(mark).filter((r) => r.headers.authorization === `Bearer ${key}`);

/** The single request with this key after `mark`, checked for Notion's headers. */
function onlyRequest(key: string, mark: number): RecordedUpstreamRequest {
  const reqs = sent(key, mark);
  expect(reqs).toHaveLength(1);
  const req = reqs[0] as RecordedUpstreamRequest;
  expect(req.headers.authorization).toBe(`Bearer ${key}`);
  expect(req.headers["notion-version"]).toBe(NOTION_VERSION);
  return req;
}

const text = (content: string) => [{ text: { content } }];
const noDashes = (id: string) => id.replaceAll("-", "");

type List = { results: Record<string, unknown>[]; nextCursor?: string };

describe("connecting Notion", () => {
  test("a valid secret is checked with GET /v1/users/me and the bot is the connected account", async () => {
    const { key, seed } = notionKey("vera");
    const user = await newUser(stack);
    const mark = fake.requests.length;
    const res = await connectRaw(stack, user, "notion", key);
    expect(res.status).toBe(200);
    const req = onlyRequest(key, mark);
    expect(req.method).toBe("GET");
    expect(req.path).toBe("/v1/users/me");
    const list = await trpc(stack, "instances.list", undefined, { cookie: user.cookie });
    expect(data<{ serviceType: string; status: string; account: unknown }[]>(list)).toEqual([
      expect.objectContaining({
        serviceType: "notion",
        status: "active",
        account: { id: seed.botId, name: seed.botName },
      }),
    ]);
  });

  test("a wrong secret → 400 INVALID_API_KEY and nothing stored", async () => {
    const user = await newUser(stack);
    const wrong = `ntn_fake_${crypto.randomUUID().replaceAll("-", "")}`;
    const mark = fake.requests.length;
    const res = await connectRaw(stack, user, "notion", wrong);
    expect(res.status).toBe(400);
    expect(res.body.error?.data.appCode).toBe("INVALID_API_KEY");
    // The fake answered as Notion does: 401 `unauthorized`.
    expect(fake.requests.slice(mark).some((r) => r.headers.authorization === `Bearer ${wrong}`)).toBe(true);
    const list = await trpc(stack, "instances.list", undefined, { cookie: user.cookie });
    expect(data<unknown[]>(list)).toEqual([]);
  });
});

describe("Notion tools", () => {
  let me: Connected;
  beforeAll(async () => {
    me = await connected("ada");
  });

  test("tools/list: every tool with its annotations; paginated tools take a cursor", async () => {
    const { tools } = await me.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      "add_comment",
      "append_blocks",
      "create_page",
      "get_database",
      "get_page",
      "get_page_content",
      "list_comments",
      "list_users",
      "query_database",
      "search",
      "update_page",
    ]);
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const t of tools) expect(t.annotations?.openWorldHint).toBe(true);
    expect(byName.get("get_page")?.annotations?.readOnlyHint).toBe(true);
    expect(byName.get("update_page")?.annotations?.destructiveHint).toBe(true);
    expect(byName.get("create_page")?.annotations?.readOnlyHint).toBe(false);
    for (const name of ["search", "get_page_content", "query_database", "list_users", "list_comments"]) {
      expect(Object.keys(byName.get(name)?.inputSchema.properties ?? {})).toContain("cursor");
    }
  });

  test("search: POST /v1/search with query and object filter in the body; results narrowed", async () => {
    const mark = fake.requests.length;
    const res = await callTool(me.client, "search", {
      query: "tasks",
      filter: { property: "object", value: "database" },
      page_size: 10,
    });
    expect(res.isError).toBe(false);
    const req = onlyRequest(me.key, mark);
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/v1/search");
    expect(req.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(req.body).toEqual({
      query: "tasks",
      filter: { property: "object", value: "database" },
      page_size: 10,
    });
    const result = res.json as List;
    expect(result.nextCursor).toBeUndefined();
    expect(result.results).toEqual([
      expect.objectContaining({
        object: "database",
        id: me.seed.databaseId,
        title: [{ plain_text: "Tasks" }],
        parent: { type: "page_id", page_id: me.seed.rootPageId },
      }),
    ]);
    // Narrowed by response.fields: no author objects or covers.
    expect(result.results[0]).not.toHaveProperty("created_by");
    expect(result.results[0]).not.toHaveProperty("cover");
  });

  test("search: the cursor goes back as start_cursor in the BODY, to the end", async () => {
    const mark = fake.requests.length;
    const seen: string[] = [];
    let cursor: string | undefined;
    let calls = 0;
    do {
      const res = await callTool(me.client, "search", {
        filter: { property: "object", value: "page" },
        sort: { direction: "ascending", timestamp: "last_edited_time" },
        page_size: 2,
        ...(cursor && { cursor }),
      });
      expect(res.isError).toBe(false);
      const page = res.json as List;
      seen.push(...page.results.map((r) => String(r.id)));
      cursor = page.nextCursor;
      calls++;
    } while (cursor && calls < 10);
    // Root, sub-page and three database rows.
    expect(calls).toBe(3);
    expect(new Set(seen).size).toBe(5);
    const reqs = sent(me.key, mark);
    expect(reqs.map((r) => r.query)).toEqual([{}, {}, {}]);
    expect(reqs[0]?.body).not.toHaveProperty("start_cursor");
    expect(reqs[1]?.body).toEqual({
      filter: { property: "object", value: "page" },
      sort: { direction: "ascending", timestamp: "last_edited_time" },
      page_size: 2,
      start_cursor: seen[2],
    });
    expect(reqs[2]?.body).toHaveProperty("start_cursor", seen[4]);
  });

  test("get_page: GET /v1/pages/{id} (an id without dashes is fine); properties and url", async () => {
    const mark = fake.requests.length;
    const res = await callTool(me.client, "get_page", { page_id: noDashes(me.seed.rowIds[1] ?? "") });
    expect(res.isError).toBe(false);
    const req = onlyRequest(me.key, mark);
    expect(req.method).toBe("GET");
    expect(req.path).toBe(`/v1/pages/${noDashes(me.seed.rowIds[1] ?? "")}`);
    expect(req.text).toBe("");
    const page = res.json as Record<string, unknown>;
    expect(page).toMatchObject({
      object: "page",
      id: me.seed.rowIds[1],
      archived: false,
      parent: { type: "database_id", database_id: me.seed.databaseId },
      properties: {
        Name: { type: "title", title: [expect.objectContaining({ plain_text: "Fix login bug" })] },
        Status: { type: "select", select: expect.objectContaining({ name: "Done" }) },
        Done: { type: "checkbox", checkbox: true },
      },
    });
    expect(String(page.url)).toStartWith("https://www.notion.so/");
    expect(page.created_by).toEqual({ id: me.seed.botId });
  });

  test("get_page_content: GET block children, cursor in the query, followed to the end", async () => {
    const mark = fake.requests.length;
    const first = await callTool(me.client, "get_page_content", {
      block_id: me.seed.rootPageId,
      page_size: 3,
    });
    expect(first.isError).toBe(false);
    const p1 = first.json as List;
    expect(p1.results.map((b) => b.type)).toEqual(["heading_1", "paragraph", "to_do"]);
    expect(p1.results[0]).toEqual({
      id: me.seed.rootBlockIds[0],
      type: "heading_1",
      has_children: false,
      heading_1: { rich_text: [{ plain_text: "Welcome", href: null }] },
    });
    expect(p1.results[1]).toMatchObject({
      paragraph: {
        rich_text: [
          { plain_text: "Read the ", href: null },
          { plain_text: "handbook", href: "https://example.test/handbook" },
        ],
      },
    });
    expect(p1.results[2]).toMatchObject({ to_do: { checked: true } });
    expect(typeof p1.nextCursor).toBe("string");

    const second = await callTool(me.client, "get_page_content", {
      block_id: me.seed.rootPageId,
      page_size: 3,
      cursor: p1.nextCursor,
    });
    const p2 = second.json as List;
    expect(p2.results.map((b) => b.type)).toEqual(["bulleted_list_item", "bulleted_list_item", "child_page"]);
    expect(p2.results[2]).toMatchObject({
      id: me.seed.subPageId,
      has_children: true,
      child_page: { title: "Meeting notes" },
    });
    const third = await callTool(me.client, "get_page_content", {
      block_id: me.seed.rootPageId,
      page_size: 3,
      cursor: p2.nextCursor,
    });
    const p3 = third.json as List;
    expect(p3.results).toEqual([
      expect.objectContaining({ id: me.seed.databaseId, child_database: { title: "Tasks" } }),
    ]);
    expect(p3.nextCursor).toBeUndefined();

    const reqs = sent(me.key, mark);
    expect(reqs.map((r) => [r.method, r.path])).toEqual(
      Array(3).fill(["GET", `/v1/blocks/${me.seed.rootPageId}/children`]),
    );
    expect(reqs[0]?.query).toEqual({ page_size: "3" });
    expect(reqs[1]?.query).toEqual({ page_size: "3", start_cursor: String(me.seed.rootBlockIds[3]) });
    expect(reqs[2]?.query).toEqual({ page_size: "3", start_cursor: String(me.seed.rootBlockIds[6]) });
  });

  test("get_database: GET /v1/databases/{id}; title, columns and select options", async () => {
    const mark = fake.requests.length;
    const res = await callTool(me.client, "get_database", { database_id: me.seed.databaseId });
    expect(res.isError).toBe(false);
    const req = onlyRequest(me.key, mark);
    expect([req.method, req.path]).toEqual(["GET", `/v1/databases/${me.seed.databaseId}`]);
    expect(res.json).toMatchObject({
      object: "database",
      id: me.seed.databaseId,
      title: [{ plain_text: "Tasks" }],
      properties: {
        Name: { type: "title" },
        Status: {
          type: "select",
          select: { options: [{ name: "Not started" }, { name: "In progress" }, { name: "Done" }] },
        },
        Done: { type: "checkbox" },
      },
    });
  });

  test("query_database: filter and sorts passed through in the body; rows with their values", async () => {
    const mark = fake.requests.length;
    const filter = {
      or: [
        { property: "Status", select: { equals: "In progress" } },
        { property: "Name", title: { contains: "q3" } },
      ],
    };
    const sorts = [{ property: "Name", direction: "ascending" }];
    const res = await callTool(me.client, "query_database", {
      database_id: me.seed.databaseId,
      filter,
      sorts,
    });
    expect(res.isError).toBe(false);
    const req = onlyRequest(me.key, mark);
    expect([req.method, req.path]).toEqual(["POST", `/v1/databases/${me.seed.databaseId}/query`]);
    expect(req.body).toEqual({ filter, sorts });
    const result = res.json as List;
    expect(result.results.map((r) => r.id)).toEqual([me.seed.rowIds[2], me.seed.rowIds[0]]);
    expect(result.results[0]).toMatchObject({
      properties: { Name: { title: [expect.objectContaining({ plain_text: "Plan Q3" })] } },
    });
    expect(result.nextCursor).toBeUndefined();
  });

  test("query_database: pages through with start_cursor in the body, keeping the filter", async () => {
    const mark = fake.requests.length;
    const filter = { property: "Done", checkbox: { equals: false } };
    const ids: unknown[] = [];
    let cursor: string | undefined;
    let calls = 0;
    do {
      const res = await callTool(me.client, "query_database", {
        database_id: me.seed.databaseId,
        filter,
        page_size: 1,
        ...(cursor && { cursor }),
      });
      const page = res.json as List;
      ids.push(...page.results.map((r) => r.id));
      cursor = page.nextCursor;
      calls++;
    } while (cursor && calls < 5);
    expect(ids).toEqual([me.seed.rowIds[0], me.seed.rowIds[2]]);
    const reqs = sent(me.key, mark);
    expect(reqs.map((r) => r.body)).toEqual([
      { filter, page_size: 1 },
      { filter, page_size: 1, start_cursor: me.seed.rowIds[2] },
    ]);
  });

  test("create_page: a sub-page with a plain title (→ properties.title.title[0].text.content), icon and blocks", async () => {
    const mark = fake.requests.length;
    const children = [
      { type: "heading_2", heading_2: { rich_text: text("Agenda") } },
      { type: "to_do", to_do: { rich_text: text("Review roadmap"), checked: false } },
      { type: "divider", divider: {} },
    ];
    const res = await callTool(me.client, "create_page", {
      parent_page_id: me.seed.rootPageId,
      title: "Weekly sync",
      icon_emoji: "📝",
      children,
    });
    expect(res.isError).toBe(false);
    const req = onlyRequest(me.key, mark);
    expect([req.method, req.path]).toEqual(["POST", "/v1/pages"]);
    expect(req.body).toEqual({
      parent: { page_id: me.seed.rootPageId },
      properties: { title: { title: text("Weekly sync") } },
      icon: { emoji: "📝" },
      children,
    });
    const created = res.json as { id: string; url: string; parent: unknown; properties: unknown };
    expect(created.parent).toEqual({ type: "page_id", page_id: me.seed.rootPageId });
    expect(created.url).toContain(noDashes(created.id));
    expect(created.properties).toMatchObject({
      title: { title: [expect.objectContaining({ plain_text: "Weekly sync" })] },
    });
    // The fake applied it: the new page holds the blocks.
    const content = await callTool(me.client, "get_page_content", { block_id: created.id });
    expect((content.json as List).results.map((b) => b.type)).toEqual(["heading_2", "to_do", "divider"]);
  });

  test("create_page: a database row (parent.database_id) shows up in query_database", async () => {
    const mark = fake.requests.length;
    const res = await callTool(me.client, "create_page", {
      parent_database_id: me.seed.databaseId,
      title: "Write release notes",
    });
    expect(res.isError).toBe(false);
    expect(onlyRequest(me.key, mark).body).toEqual({
      parent: { database_id: me.seed.databaseId },
      properties: { title: { title: text("Write release notes") } },
    });
    const id = (res.json as { id: string }).id;
    const rows = await callTool(me.client, "query_database", {
      database_id: me.seed.databaseId,
      filter: { property: "Name", title: { starts_with: "Write release" } },
    });
    expect((rows.json as List).results.map((r) => r.id)).toEqual([id]);
  });

  test("update_page: PATCH /v1/pages/{id} renames, sets the icon and archives; cached reads refresh", async () => {
    // get_page is cached briefly: the second read does not reach Notion.
    const before = fake.requests.length;
    const title = (r: { json: unknown }) =>
      JSON.stringify((r.json as { properties: unknown }).properties).match(/"plain_text":"([^"]*)"/)?.[1];
    expect(title(await callTool(me.client, "get_page", { page_id: me.seed.subPageId }))).toBe(
      "Meeting notes",
    );
    expect(title(await callTool(me.client, "get_page", { page_id: me.seed.subPageId }))).toBe(
      "Meeting notes",
    );
    expect(sent(me.key, before)).toHaveLength(1);

    const mark = fake.requests.length;
    const res = await callTool(me.client, "update_page", {
      page_id: me.seed.subPageId,
      title: "Old meeting notes",
      icon_emoji: "🗄️",
      archived: true,
    });
    expect(res.isError).toBe(false);
    const req = onlyRequest(me.key, mark);
    expect([req.method, req.path]).toEqual(["PATCH", `/v1/pages/${me.seed.subPageId}`]);
    expect(req.body).toEqual({
      properties: { title: { title: text("Old meeting notes") } },
      icon: { emoji: "🗄️" },
      archived: true,
    });
    expect(res.json).toMatchObject({
      id: me.seed.subPageId,
      archived: true,
      icon: { emoji: "🗄️" },
      properties: { title: { title: [expect.objectContaining({ plain_text: "Old meeting notes" })] } },
    });
    // Restoring it sends only `archived`.
    const restore = await callTool(me.client, "update_page", { page_id: me.seed.subPageId, archived: false });
    expect(restore.isError).toBe(false);
    expect(sent(me.key, mark)[1]?.body).toEqual({ archived: false });
    // The writes dropped the cached read: the page is read again, with its new title.
    const after = await callTool(me.client, "get_page", { page_id: me.seed.subPageId });
    expect(title(after)).toBe("Old meeting notes");
    expect(after.json).toMatchObject({ archived: false });
    expect(sent(me.key, mark)).toHaveLength(3);
  });

  test("create_page: a database row with typed column values (properties map) next to the plain title", async () => {
    const { seed, client, key } = await connected("dora");
    const properties = {
      Status: { select: { name: "In progress" } },
      Done: { checkbox: false },
      Estimate: { number: 5 },
      Tags: { multi_select: [{ name: "web" }, { name: "mobile" }] },
      Stage: { status: { name: "In progress" } },
      Due: { date: { start: "2026-01-31", end: "2026-02-02" } },
      Notes: { rich_text: text("Needs copy review") },
      Owner: { people: [{ id: seed.userIds[1] }] },
      Link: { url: "https://example.test/launch" },
      Contact: { email: "pm@example.test" },
      Phone: { phone_number: "+1 555 0100" },
      Related: { relation: [{ id: seed.rowIds[0] }] },
    };
    const mark = fake.requests.length;
    const res = await callTool(client, "create_page", {
      parent_database_id: seed.databaseId,
      title: "Launch v2",
      properties,
    });
    expect(res.isError).toBe(false);
    const req = onlyRequest(key, mark);
    expect([req.method, req.path]).toEqual(["POST", "/v1/pages"]);
    // The map is the body's `properties`; the plain title lands beside it under the title's id.
    expect(req.body).toEqual({
      parent: { database_id: seed.databaseId },
      properties: { ...properties, title: { title: text("Launch v2") } },
    });
    const created = res.json as { id: string; properties: Record<string, unknown> };
    expect(created.properties).toMatchObject({
      Name: { type: "title", title: [expect.objectContaining({ plain_text: "Launch v2" })] },
      Status: { type: "select", select: { name: "In progress" } },
      Done: { type: "checkbox", checkbox: false },
      Estimate: { type: "number", number: 5 },
      Tags: { type: "multi_select", multi_select: [{ name: "web" }, { name: "mobile" }] },
      Stage: { type: "status", status: { name: "In progress" } },
      Due: { type: "date", date: { start: "2026-01-31", end: "2026-02-02" } },
      Notes: { type: "rich_text", rich_text: [expect.objectContaining({ plain_text: "Needs copy review" })] },
      Owner: { type: "people", people: [{ object: "user", id: seed.userIds[1] }] },
      Link: { type: "url", url: "https://example.test/launch" },
      Contact: { type: "email", email: "pm@example.test" },
      Phone: { type: "phone_number", phone_number: "+1 555 0100" },
      Related: { type: "relation", relation: [{ id: seed.rowIds[0] }] },
    });
    // A new select name adds the option, as Notion does.
    const db = await callTool(client, "get_database", { database_id: seed.databaseId });
    expect(db.json).toMatchObject({
      properties: { Tags: { multi_select: { options: [{}, {}, {}, { name: "mobile" }] } } },
    });
    // The row is there with its values.
    const rows = await callTool(client, "query_database", {
      database_id: seed.databaseId,
      filter: { property: "Status", select: { equals: "In progress" } },
    });
    expect((rows.json as List).results.map((r) => r.id)).toEqual([seed.rowIds[0], created.id]);
  });

  test("update_page: sets a row's columns by name or property id; only those change, title optional", async () => {
    const { seed, client, key } = await connected("emil");
    const row = seed.rowIds[0] ?? "";
    const mark = fake.requests.length;
    const properties = {
      Status: { select: { name: "Done" } },
      "k%5D%60a": { checkbox: true },
      Estimate: { number: 2.5 },
    };
    const res = await callTool(client, "update_page", { page_id: row, properties });
    expect(res.isError).toBe(false);
    const req = onlyRequest(key, mark);
    expect([req.method, req.path]).toEqual(["PATCH", `/v1/pages/${row}`]);
    expect(req.body).toEqual({ properties });
    expect(res.json).toMatchObject({
      id: row,
      properties: {
        Name: { title: [expect.objectContaining({ plain_text: "Write launch post" })] },
        Status: { select: { name: "Done" } },
        Done: { checkbox: true },
        Estimate: { number: 2.5 },
        Tags: { multi_select: [] },
      },
    });

    const mark2 = fake.requests.length;
    const renamed = await callTool(client, "update_page", {
      page_id: row,
      title: "Write launch post (v2)",
      properties: {
        Tags: { multi_select: [{ name: "docs" }] },
        Due: { date: { start: "2026-03-01T09:30:00Z" } },
      },
    });
    expect(renamed.isError).toBe(false);
    expect(onlyRequest(key, mark2).body).toEqual({
      properties: {
        Tags: { multi_select: [{ name: "docs" }] },
        Due: { date: { start: "2026-03-01T09:30:00Z" } },
        title: { title: text("Write launch post (v2)") },
      },
    });
    expect(renamed.json).toMatchObject({
      properties: {
        Name: { title: [expect.objectContaining({ plain_text: "Write launch post (v2)" })] },
        Status: { select: { name: "Done" } },
        Tags: { multi_select: [{ name: "docs" }] },
        Due: { date: { start: "2026-03-01T09:30:00Z", end: null } },
      },
    });
  });

  test("append_blocks: PATCH /v1/blocks/{id}/children, after a given block", async () => {
    const { seed, client, key } = await connected("bert");
    const mark = fake.requests.length;
    const children = [
      {
        paragraph: {
          rich_text: [
            { text: { content: "Inserted " } },
            { text: { content: "bold" }, annotations: { bold: true } },
          ],
        },
      },
      { type: "code", code: { rich_text: text("bun test"), language: "shell" } },
    ];
    const res = await callTool(client, "append_blocks", {
      block_id: seed.rootPageId,
      children,
      after: seed.rootBlockIds[0],
    });
    expect(res.isError).toBe(false);
    const req = onlyRequest(key, mark);
    expect([req.method, req.path]).toEqual(["PATCH", `/v1/blocks/${seed.rootPageId}/children`]);
    expect(req.body).toEqual({ children, after: seed.rootBlockIds[0] });
    const added = (res.json as { results: { id: string; type: string }[] }).results;
    expect(added.map((b) => b.type)).toEqual(["paragraph", "code"]);
    const content = await callTool(client, "get_page_content", { block_id: seed.rootPageId, page_size: 4 });
    expect((content.json as List).results.map((b) => b.id)).toEqual([
      seed.rootBlockIds[0],
      added[0]?.id,
      added[1]?.id,
      seed.rootBlockIds[1],
    ]);
  });

  test("list_users: GET /v1/users paged with start_cursor in the query, to the end", async () => {
    const mark = fake.requests.length;
    const first = await callTool(me.client, "list_users", { page_size: 3 });
    const p1 = first.json as List;
    expect(p1.results).toHaveLength(3);
    expect(p1.results[0]).toEqual({
      id: me.seed.userIds[0],
      type: "person",
      name: "ada ada",
      avatar_url: null,
      person: { email: "ada.ada@example.test" },
    });
    const second = await callTool(me.client, "list_users", { page_size: 3, cursor: p1.nextCursor });
    const p2 = second.json as List;
    expect(p2.results).toEqual([{ id: me.seed.botId, type: "bot", name: me.seed.botName, avatar_url: null }]);
    expect(p2.nextCursor).toBeUndefined();
    const reqs = sent(me.key, mark);
    expect(reqs.map((r) => [r.method, r.path, r.query])).toEqual([
      ["GET", "/v1/users", { page_size: "3" }],
      ["GET", "/v1/users", { page_size: "3", start_cursor: me.seed.botId }],
    ]);
  });

  test("list_comments and add_comment: a new discussion on a page and a reply in a thread", async () => {
    const { seed, client, key } = await connected("cleo");
    const mark = fake.requests.length;
    const listed = await callTool(client, "list_comments", { block_id: seed.rootPageId });
    expect(listed.isError).toBe(false);
    const list = onlyRequest(key, mark);
    expect([list.method, list.path, list.query]).toEqual([
      "GET",
      "/v1/comments",
      { block_id: seed.rootPageId },
    ]);
    expect((listed.json as List).results).toEqual([
      expect.objectContaining({
        discussion_id: seed.discussionId,
        created_by: { id: seed.userIds[0] },
        rich_text: [{ plain_text: "Can someone update the onboarding list?", href: null }],
      }),
    ]);

    const mark2 = fake.requests.length;
    const posted = await callTool(client, "add_comment", {
      page_id: seed.rootPageId,
      rich_text: text("On it!"),
    });
    expect(posted.isError).toBe(false);
    const post = onlyRequest(key, mark2);
    expect([post.method, post.path]).toEqual(["POST", "/v1/comments"]);
    expect(post.body).toEqual({ parent: { page_id: seed.rootPageId }, rich_text: text("On it!") });
    expect(posted.json).toMatchObject({
      parent: { type: "page_id", page_id: seed.rootPageId },
      created_by: { id: seed.botId },
      rich_text: [{ plain_text: "On it!" }],
    });

    const mark3 = fake.requests.length;
    const reply = await callTool(client, "add_comment", {
      discussion_id: seed.discussionId,
      rich_text: text("Done."),
    });
    expect(reply.isError).toBe(false);
    expect(onlyRequest(key, mark3).body).toEqual({
      discussion_id: seed.discussionId,
      rich_text: text("Done."),
    });
    expect(reply.json).toMatchObject({ discussion_id: seed.discussionId });

    // Three comments now, two pages of two.
    const p1 = (await callTool(client, "list_comments", { block_id: seed.rootPageId, page_size: 2 }))
      .json as List;
    expect(p1.results).toHaveLength(2);
    const p2 = (
      await callTool(client, "list_comments", {
        block_id: seed.rootPageId,
        page_size: 2,
        cursor: p1.nextCursor,
      })
    ).json as List;
    expect(p2.results.map((c) => c.rich_text)).toEqual([[{ plain_text: "Done.", href: null }]]);
    expect(p2.nextCursor).toBeUndefined();
  });
});

describe("keys, input and failures", () => {
  test("two users' calls each carry only their own integration secret", async () => {
    const [a, b] = await Promise.all([connected("ana"), connected("ben")]);
    const mark = fake.requests.length;
    const [ra, rb] = await Promise.all([
      callTool(a.client, "get_page", { page_id: a.seed.rootPageId }),
      callTool(b.client, "get_page", { page_id: b.seed.rootPageId }),
    ]);
    expect(ra.isError).toBe(false);
    expect(rb.isError).toBe(false);
    expect(JSON.stringify(ra.json)).toContain("ana Team Home");
    expect(JSON.stringify(rb.json)).toContain("ben Team Home");
    const mine = (s: Connected) =>
      fake.requests.slice(mark).filter((r) => r.path.includes(s.seed.rootPageId));
    expectOnlyCredential(mine(a), "authorization", `Bearer ${a.key}`);
    expectOnlyCredential(mine(b), "authorization", `Bearer ${b.key}`);
    // Ada's page is not reachable with Ben's key: Notion answers 404 for what is not shared with it.
    const cross = await callTool(b.client, "get_page", { page_id: a.seed.rootPageId });
    expect(cross.isError).toBe(true);
    expect(cross.text).toContain("Could not find page with ID");
  });

  test("ids that could leave their path segment, unknown or missing arguments → invalid params, no request", async () => {
    const { client, seed } = await connected("ivy");
    const mark = fake.requests.length;
    for (const page_id of ["../users/me", "..%2Fusers", `${seed.rootPageId}/x`, "%2e%2e", "not-a-page"]) {
      await expectInvalidParams(client, "get_page", { page_id });
    }
    await expectInvalidParams(client, "get_page_content", { block_id: `${seed.rootPageId}%2F..` });
    await expectInvalidParams(client, "get_page", {});
    await expectInvalidParams(client, "append_blocks", { block_id: seed.rootPageId, children: [] });
    await expectInvalidParams(client, "create_page", { parent_page_id: seed.rootPageId });
    await expectInvalidParams(client, "query_database", {
      database_id: seed.databaseId,
      filter: { property: "Name", formula: { string: { equals: "x" } } },
    });
    await expectInvalidParams(client, "list_users", { page_size: 101 });
    await expectInvalidParams(client, "search", { filter: { property: "title", value: "page" } });
    await expectInvalidParams(client, "list_users", { cursor: "not-a-cursor" });
    expect(fake.requests.length).toBe(mark);
  });

  test("properties: too many columns, bad names or values of the wrong shape → invalid params, no request", async () => {
    const { client, seed } = await connected("finn");
    const row = seed.rowIds[0] ?? "";
    const mark = fake.requests.length;
    const tooMany = Object.fromEntries(
      Array.from({ length: 51 }, (_, i) => [`Column ${i}`, { checkbox: true }]),
    );
    const msg = await expectInvalidParams(client, "create_page", {
      parent_database_id: seed.databaseId,
      title: "Too wide",
      properties: tooMany,
    });
    expect(msg).toMatch(/properties/);
    await expectInvalidParams(client, "update_page", { page_id: row, properties: tooMany });
    for (const properties of [
      { ["x".repeat(201)]: { checkbox: true } },
      { "Bad\nname": { checkbox: true } },
      { "": { checkbox: true } },
      // One type per value; only the typed subset; the title goes in `title`.
      { Status: { select: { name: "Done" }, checkbox: true } },
      { Score: { formula: { number: 3 } } },
      { Name: { title: text("Renamed") } },
      { Status: { select: "Done" } },
      { Status: { select: { name: "x".repeat(101) } } },
      { Due: { date: { start: "next friday" } } },
      { Owner: { people: [{ id: "../users/me" }] } },
      { Estimate: { number: "3" } },
      { Notes: { rich_text: "plain text" } },
    ]) {
      await expectInvalidParams(client, "update_page", { page_id: row, properties });
    }
    // The title is a plain string now, and a tool's own input stays closed.
    await expectInvalidParams(client, "update_page", { page_id: row, title: text("Old shape") });
    await expectInvalidParams(client, "update_page", { page_id: row, Status: { select: { name: "Done" } } });
    expect(fake.requests.length).toBe(mark);
  });

  test("Notion's validation of columns becomes a tool error with its message; nothing is written", async () => {
    const { client, seed, key } = await connected("gus");
    const row = seed.rowIds[1] ?? "";
    const mark = fake.requests.length;
    const unknown = await callTool(client, "create_page", {
      parent_database_id: seed.databaseId,
      title: "Ghost row",
      properties: { Priority: { select: { name: "High" } } },
    });
    expect(unknown.isError).toBe(true);
    expect(unknown.text).toContain("Priority is not a property that exists.");
    expect(onlyRequest(key, mark).body).toMatchObject({
      properties: { Priority: { select: { name: "High" } } },
    });
    const ghost = await callTool(client, "query_database", {
      database_id: seed.databaseId,
      filter: { property: "Name", title: { equals: "Ghost row" } },
    });
    expect((ghost.json as List).results).toEqual([]);

    const wrongType = await callTool(client, "update_page", {
      page_id: row,
      properties: { Estimate: { number: 8 }, Done: { select: { name: "yes" } } },
    });
    expect(wrongType.isError).toBe(true);
    expect(wrongType.text).toContain("Done is expected to be checkbox.");
    const noStatus = await callTool(client, "update_page", {
      page_id: row,
      properties: { Stage: { status: { name: "Shipped" } } },
    });
    expect(noStatus.isError).toBe(true);
    expect(noStatus.text).toContain('Status option "Shipped" does not exist');
    // A page outside a database has only its title.
    const notARow = await callTool(client, "update_page", {
      page_id: seed.subPageId,
      properties: { Status: { select: { name: "Done" } } },
    });
    expect(notARow.isError).toBe(true);
    expect(notARow.text).toContain("Status is not a property that exists.");
    // None of it was applied: the row still has its seeded values.
    const after = await callTool(client, "get_page", { page_id: row });
    expect(after.json).toMatchObject({
      properties: { Estimate: { number: null }, Done: { checkbox: true }, Stage: { status: null } },
    });
  });

  test("Notion's 404 object_not_found and 400 validation_error become tool errors with Notion's message", async () => {
    const { client, seed } = await connected("otto");
    const missing = crypto.randomUUID();
    const notFound = await callTool(client, "get_database", { database_id: missing });
    expect(notFound.isError).toBe(true);
    expect(notFound.text).toContain(`Could not find database with ID: ${missing}`);
    expect(notFound.text).toContain("shared with your integration");

    // Both parents: Notion refuses the body.
    const both = await callTool(client, "create_page", {
      parent_page_id: seed.rootPageId,
      parent_database_id: seed.databaseId,
      title: "Nope",
    });
    expect(both.isError).toBe(true);
    expect(both.text).toContain("body failed validation");

    const badFilter = await callTool(client, "query_database", {
      database_id: seed.databaseId,
      filter: { property: "Priority", select: { equals: "High" } },
    });
    expect(badFilter.isError).toBe(true);
    expect(badFilter.text).toContain("Could not find property with name or id: Priority");
  });

  test("a 403 restricted_resource for a key that still validates: access refused, credentials kept", async () => {
    const { client, seed, user } = await connected("rita");
    fake.answerNext(() =>
      json(notionError(403, "restricted_resource", "Insufficient permissions for this endpoint."), 403),
    );
    const res = await callTool(client, "list_comments", { block_id: seed.rootPageId });
    expect(res.isError).toBe(true);
    expect(res.text).toContain("Insufficient permissions for this endpoint.");
    expect(res.text).not.toMatch(/reconnect/i);
    const list = await trpc(stack, "instances.list", undefined, { cookie: user.cookie });
    expect(data<{ status: string }[]>(list)[0]?.status).toBe("active");
  });

  test("429 rate_limited with Retry-After → a rate-limited tool error", async () => {
    const { client, seed, key } = await connected("remy");
    fake.answerNext(() => rateLimited(7));
    const res = await callTool(client, "get_page", { page_id: seed.subPageId });
    expect(res.isError).toBe(true);
    expect(res.text).toMatch(/rate limiting/i);
    expect(res.text).toContain("7 seconds");
    expect(res.meta?.retryAfterSeconds).toBe(7);
    expect(res.text).not.toContain(key);
  });

  test("a secret revoked upstream → tool error asking to reconnect; the instance needs re-auth", async () => {
    const { client, seed, key, user } = await connected("rex");
    fake.removeKey(key);
    const mark = fake.requests.length;
    const res = await callTool(client, "search", { query: "home" });
    expect(res.isError).toBe(true);
    expect(res.text).toMatch(/reconnect/i);
    expect(res.text).not.toContain(key);
    // The call, then the re-check of the key with GET /v1/users/me.
    expect(sent(key, mark).map((r) => [r.method, r.path])).toEqual([
      ["POST", "/v1/search"],
      ["GET", "/v1/users/me"],
    ]);
    const list = await trpc(stack, "instances.list", undefined, { cookie: user.cookie });
    expect(data<{ status: string }[]>(list)[0]?.status).toBe("needs_reauth");
    expect(seed.rootPageId).toBeTruthy();
  });
});
