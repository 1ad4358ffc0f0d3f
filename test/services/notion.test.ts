// The Notion service end to end: keys validated against GET /v1/users/me, every tool called through a real
// MCP client against a fake shaped like the Notion API (version 2025-09-03: a database is a container of data
// sources, schema and rows are per data source), a database with two data sources, cursor pagination in the
// query and in the body, per-user keys, refused input, Notion's error objects (also the one 2022-06-28 gets for a
// multi-source database), rate limits and a revoked integration.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { Client } from "@modelcontextprotocol/client";
import { data, trpc } from "../client.ts";
import {
  type FakeNotion,
  NOTION_VERSION,
  type NotionSeed,
  notionError,
  OLD_NOTION_VERSION,
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

/** Keys whose requests the tests send to the fake themselves (other Notion-Version values). */
const direct = new Set<string>();

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

/** A row's parent in 2025-09-03: the data source, and the database holding it. */
const rowParent = (seed: NotionSeed, dataSourceId = seed.dataSourceId) => ({
  type: "data_source_id",
  data_source_id: dataSourceId,
  database_id: seed.databaseId,
});

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

  test("tools/list: every tool with its annotations; paginated tools take a cursor; data sources by id", async () => {
    const { tools } = await me.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      "add_comment",
      "append_blocks",
      "create_page",
      "get_data_source",
      "get_database",
      "get_page",
      "get_page_content",
      "list_comments",
      "list_users",
      "query_data_source",
      "search",
      "update_page",
    ]);
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const t of tools) expect(t.annotations?.openWorldHint).toBe(true);
    expect(byName.get("get_page")?.annotations?.readOnlyHint).toBe(true);
    expect(byName.get("get_data_source")?.annotations?.readOnlyHint).toBe(true);
    expect(byName.get("query_data_source")?.annotations?.readOnlyHint).toBe(true);
    expect(byName.get("update_page")?.annotations?.destructiveHint).toBe(true);
    expect(byName.get("create_page")?.annotations?.readOnlyHint).toBe(false);
    for (const name of ["search", "get_page_content", "query_data_source", "list_users", "list_comments"]) {
      expect(Object.keys(byName.get(name)?.inputSchema.properties ?? {})).toContain("cursor");
    }
    // Rows, schema and new rows take a data source id; only get_database takes a database id, and says how to
    // get from one to the other.
    const props = (name: string) => Object.keys(byName.get(name)?.inputSchema.properties ?? {});
    expect(byName.get("query_data_source")?.inputSchema.required).toEqual(["data_source_id"]);
    expect(byName.get("get_data_source")?.inputSchema.required).toEqual(["data_source_id"]);
    expect(props("create_page")).toContain("parent_data_source_id");
    expect(props("create_page")).not.toContain("parent_database_id");
    expect(props("update_page")).toContain("in_trash");
    expect(props("update_page")).not.toContain("archived");
    expect(byName.get("get_database")?.description).toContain("data_sources");
    for (const name of ["query_data_source", "get_data_source", "create_page"]) {
      expect(byName.get(name)?.description).toContain("get_database");
    }
  });

  test("search: POST /v1/search with query and the data_source filter in the body; results narrowed", async () => {
    const mark = fake.requests.length;
    const res = await callTool(me.client, "search", {
      query: "tasks",
      filter: { property: "object", value: "data_source" },
      page_size: 10,
    });
    expect(res.isError).toBe(false);
    const req = onlyRequest(me.key, mark);
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/v1/search");
    expect(req.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(req.body).toEqual({
      query: "tasks",
      filter: { property: "object", value: "data_source" },
      page_size: 10,
    });
    const result = res.json as List;
    expect(result.nextCursor).toBeUndefined();
    expect(result.results).toEqual([
      expect.objectContaining({
        object: "data_source",
        id: me.seed.dataSourceId,
        title: [{ plain_text: "Tasks" }],
        parent: { type: "database_id", database_id: me.seed.databaseId },
        in_trash: false,
      }),
    ]);
    // A data source result holds its columns, as the database did before 2025-09-03.
    expect(result.results[0]?.properties).toMatchObject({
      Name: { type: "title" },
      Status: { type: "select", select: { options: [{ name: "Not started" }, {}, {}] } },
    });
    // Narrowed by response.fields: no author objects, covers or the deprecated `archived`.
    expect(result.results[0]).not.toHaveProperty("created_by");
    expect(result.results[0]).not.toHaveProperty("cover");
    expect(result.results[0]).not.toHaveProperty("archived");
  });

  test("search: every data source of a multi-source database is its own result, with its database id", async () => {
    const res = await callTool(me.client, "search", { filter: { property: "object", value: "data_source" } });
    expect(res.isError).toBe(false);
    const results = (res.json as List).results;
    expect(results.map((r) => [r.object, r.id, r.title, r.parent])).toEqual([
      [
        "data_source",
        me.seed.dataSourceId,
        [{ plain_text: "Tasks" }],
        { type: "database_id", database_id: me.seed.databaseId },
      ],
      [
        "data_source",
        me.seed.bugsDataSourceId,
        [{ plain_text: "Bugs" }],
        { type: "database_id", database_id: me.seed.databaseId },
      ],
    ]);
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
      expect(page.results.every((r) => r.object === "page")).toBe(true);
      seen.push(...page.results.map((r) => String(r.id)));
      cursor = page.nextCursor;
      calls++;
    } while (cursor && calls < 10);
    // Root, sub-page, three Tasks rows and two Bugs rows.
    expect(calls).toBe(4);
    expect(new Set(seen).size).toBe(7);
    const reqs = sent(me.key, mark);
    expect(reqs.map((r) => r.query)).toEqual([{}, {}, {}, {}]);
    expect(reqs[0]?.body).not.toHaveProperty("start_cursor");
    expect(reqs[1]?.body).toEqual({
      filter: { property: "object", value: "page" },
      sort: { direction: "ascending", timestamp: "last_edited_time" },
      page_size: 2,
      start_cursor: seen[2],
    });
    expect(reqs[2]?.body).toHaveProperty("start_cursor", seen[4]);
    expect(reqs[3]?.body).toHaveProperty("start_cursor", seen[6]);
  });

  test("get_page: GET /v1/pages/{id} (an id without dashes is fine); a row's data source parent, properties and url", async () => {
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
      in_trash: false,
      parent: rowParent(me.seed),
      properties: {
        Name: { type: "title", title: [expect.objectContaining({ plain_text: "Fix login bug" })] },
        Status: { type: "select", select: expect.objectContaining({ name: "Done" }) },
        Done: { type: "checkbox", checkbox: true },
      },
    });
    expect(page).not.toHaveProperty("archived");
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
    // A child_database block's id is the database (container) id.
    expect(p3.results).toEqual([
      expect.objectContaining({ id: me.seed.databaseId, child_database: { title: "Tracker" } }),
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

  test("get_database: GET /v1/databases/{id}; the container's title and its data sources, no columns", async () => {
    const mark = fake.requests.length;
    const res = await callTool(me.client, "get_database", { database_id: noDashes(me.seed.databaseId) });
    expect(res.isError).toBe(false);
    const req = onlyRequest(me.key, mark);
    expect([req.method, req.path, req.text]).toEqual([
      "GET",
      `/v1/databases/${noDashes(me.seed.databaseId)}`,
      "",
    ]);
    expect(res.json).toEqual({
      object: "database",
      id: me.seed.databaseId,
      title: [{ plain_text: "Tracker" }],
      description: [],
      url: `https://www.notion.so/${noDashes(me.seed.databaseId)}`,
      public_url: null,
      parent: { type: "page_id", page_id: me.seed.rootPageId },
      is_inline: true,
      created_time: expect.any(String),
      last_edited_time: expect.any(String),
      in_trash: false,
      data_sources: [
        { id: me.seed.dataSourceId, name: "Tasks" },
        { id: me.seed.bugsDataSourceId, name: "Bugs" },
      ],
    });
  });

  test("get_data_source: GET /v1/data_sources/{id}; columns, select options and a relation's data source", async () => {
    const mark = fake.requests.length;
    const res = await callTool(me.client, "get_data_source", { data_source_id: me.seed.dataSourceId });
    expect(res.isError).toBe(false);
    const req = onlyRequest(me.key, mark);
    expect([req.method, req.path, req.text]).toEqual(["GET", `/v1/data_sources/${me.seed.dataSourceId}`, ""]);
    expect(res.json).toMatchObject({
      object: "data_source",
      id: me.seed.dataSourceId,
      title: [{ plain_text: "Tasks" }],
      parent: { type: "database_id", database_id: me.seed.databaseId },
      database_parent: { type: "page_id", page_id: me.seed.rootPageId },
      in_trash: false,
      properties: {
        Name: { type: "title" },
        Status: {
          type: "select",
          select: { options: [{ name: "Not started" }, { name: "In progress" }, { name: "Done" }] },
        },
        Done: { type: "checkbox" },
        Related: {
          type: "relation",
          relation: { database_id: me.seed.databaseId, data_source_id: me.seed.dataSourceId },
        },
      },
    });
    expect(res.json).not.toHaveProperty("created_by");

    // The other data source of the same database has columns of its own.
    const bugs = await callTool(me.client, "get_data_source", { data_source_id: me.seed.bugsDataSourceId });
    const columns = (bugs.json as { properties: Record<string, { type: string }> }).properties;
    expect(Object.fromEntries(Object.entries(columns).map(([n, c]) => [n, c.type]))).toEqual({
      Name: "title",
      Severity: "select",
      Fixed: "checkbox",
      Task: "relation",
    });
    expect(bugs.json).toMatchObject({
      title: [{ plain_text: "Bugs" }],
      parent: { type: "database_id", database_id: me.seed.databaseId },
      properties: { Task: { relation: { data_source_id: me.seed.dataSourceId } } },
    });
  });

  test("query_data_source: POST /v1/data_sources/{id}/query, filter and sorts in the body; rows with values", async () => {
    const mark = fake.requests.length;
    const filter = {
      or: [
        { property: "Status", select: { equals: "In progress" } },
        { property: "Name", title: { contains: "q3" } },
      ],
    };
    const sorts = [{ property: "Name", direction: "ascending" }];
    const res = await callTool(me.client, "query_data_source", {
      data_source_id: me.seed.dataSourceId,
      filter,
      sorts,
    });
    expect(res.isError).toBe(false);
    const req = onlyRequest(me.key, mark);
    expect([req.method, req.path]).toEqual(["POST", `/v1/data_sources/${me.seed.dataSourceId}/query`]);
    expect(req.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(req.body).toEqual({ filter, sorts });
    const result = res.json as List;
    expect(result.results.map((r) => r.id)).toEqual([me.seed.rowIds[2], me.seed.rowIds[0]]);
    expect(result.results[0]).toMatchObject({
      object: "page",
      parent: rowParent(me.seed),
      in_trash: false,
      properties: { Name: { title: [expect.objectContaining({ plain_text: "Plan Q3" })] } },
    });
    expect(result.results[0]).not.toHaveProperty("archived");
    expect(result.nextCursor).toBeUndefined();
  });

  test("query_data_source: pages through with start_cursor in the body, keeping the filter", async () => {
    const mark = fake.requests.length;
    const filter = { property: "Done", checkbox: { equals: false } };
    const ids: unknown[] = [];
    let cursor: string | undefined;
    let calls = 0;
    do {
      const res = await callTool(me.client, "query_data_source", {
        data_source_id: me.seed.dataSourceId,
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
    expect(reqs.map((r) => [r.path, r.query])).toEqual(
      Array(2).fill([`/v1/data_sources/${me.seed.dataSourceId}/query`, {}]),
    );
    expect(reqs.map((r) => r.body)).toEqual([
      { filter, page_size: 1 },
      { filter, page_size: 1, start_cursor: me.seed.rowIds[2] },
    ]);
  });

  test("a database with two data sources: each is queried, and written to, by its own id", async () => {
    const { seed, client, key } = await connected("moss");
    // From the database id to its data sources.
    const db = (await callTool(client, "get_database", { database_id: seed.databaseId })).json as {
      data_sources: { id: string; name: string }[];
    };
    const bugsId = db.data_sources.find((s) => s.name === "Bugs")?.id ?? "";
    expect(bugsId).toBe(seed.bugsDataSourceId);

    const tasks = await callTool(client, "query_data_source", { data_source_id: seed.dataSourceId });
    expect((tasks.json as List).results.map((r) => r.id)).toEqual(seed.rowIds);
    const bugs = await callTool(client, "query_data_source", {
      data_source_id: bugsId,
      filter: { property: "Severity", select: { equals: "High" } },
    });
    expect((bugs.json as List).results).toEqual([
      expect.objectContaining({
        id: seed.bugIds[0],
        parent: rowParent(seed, bugsId),
        properties: expect.objectContaining({
          Name: expect.objectContaining({
            title: [expect.objectContaining({ plain_text: "Login button misaligned" })],
          }),
          Severity: expect.objectContaining({ select: expect.objectContaining({ name: "High" }) }),
        }),
      }),
    ]);

    // A new row in the second data source, with a relation to a row of the first.
    const mark = fake.requests.length;
    const created = await callTool(client, "create_page", {
      parent_data_source_id: bugsId,
      title: "Crash on save",
      properties: { Severity: { select: { name: "High" } }, Task: { relation: [{ id: seed.rowIds[0] }] } },
    });
    expect(created.isError).toBe(false);
    const req = onlyRequest(key, mark);
    expect([req.method, req.path]).toEqual(["POST", "/v1/pages"]);
    expect(req.body).toEqual({
      parent: { data_source_id: bugsId },
      properties: {
        Severity: { select: { name: "High" } },
        Task: { relation: [{ id: seed.rowIds[0] }] },
        title: { title: text("Crash on save") },
      },
    });
    const row = created.json as { id: string };
    expect(created.json).toMatchObject({
      parent: rowParent(seed, bugsId),
      properties: { Task: { type: "relation", relation: [{ id: seed.rowIds[0] }] } },
    });
    const after = (await callTool(client, "query_data_source", { data_source_id: bugsId })).json as List;
    expect(after.results.map((r) => r.id)).toEqual([...seed.bugIds, row.id]);
    const tasksAfter = (await callTool(client, "query_data_source", { data_source_id: seed.dataSourceId }))
      .json as List;
    expect(tasksAfter.results.map((r) => r.id)).toEqual(seed.rowIds);

    // The first data source's columns are not the second's.
    const wrong = await callTool(client, "update_page", {
      page_id: row.id,
      properties: { Status: { select: { name: "Done" } } },
    });
    expect(wrong.isError).toBe(true);
    expect(wrong.text).toContain("Status is not a property that exists.");

    // A database id is not a data source id: Notion answers 404, and the model reads the message.
    const mark2 = fake.requests.length;
    const byDatabase = await callTool(client, "query_data_source", { data_source_id: seed.databaseId });
    expect(byDatabase.isError).toBe(true);
    expect(byDatabase.text).toContain(`Could not find data_source with ID: ${seed.databaseId}`);
    const schemaByDatabase = await callTool(client, "get_data_source", { data_source_id: seed.databaseId });
    expect(schemaByDatabase.isError).toBe(true);
    expect(schemaByDatabase.text).toContain("Could not find data_source with ID");
    expect(sent(key, mark2).map((r) => [r.method, r.path])).toEqual([
      ["POST", `/v1/data_sources/${seed.databaseId}/query`],
      ["GET", `/v1/data_sources/${seed.databaseId}`],
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

  test("create_page: a row (parent.data_source_id) shows up in query_data_source", async () => {
    const mark = fake.requests.length;
    const res = await callTool(me.client, "create_page", {
      parent_data_source_id: me.seed.dataSourceId,
      title: "Write release notes",
    });
    expect(res.isError).toBe(false);
    expect(onlyRequest(me.key, mark).body).toEqual({
      parent: { data_source_id: me.seed.dataSourceId },
      properties: { title: { title: text("Write release notes") } },
    });
    expect(res.json).toMatchObject({ parent: rowParent(me.seed), in_trash: false });
    const id = (res.json as { id: string }).id;
    const rows = await callTool(me.client, "query_data_source", {
      data_source_id: me.seed.dataSourceId,
      filter: { property: "Name", title: { starts_with: "Write release" } },
    });
    expect((rows.json as List).results.map((r) => r.id)).toEqual([id]);
  });

  test("update_page: PATCH /v1/pages/{id} renames, sets the icon and trashes (in_trash); cached reads refresh", async () => {
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
      in_trash: true,
    });
    expect(res.isError).toBe(false);
    const req = onlyRequest(me.key, mark);
    expect([req.method, req.path]).toEqual(["PATCH", `/v1/pages/${me.seed.subPageId}`]);
    expect(req.body).toEqual({
      properties: { title: { title: text("Old meeting notes") } },
      icon: { emoji: "🗄️" },
      in_trash: true,
    });
    expect(res.json).toMatchObject({
      id: me.seed.subPageId,
      in_trash: true,
      icon: { emoji: "🗄️" },
      properties: { title: { title: [expect.objectContaining({ plain_text: "Old meeting notes" })] } },
    });
    expect(res.json).not.toHaveProperty("archived");
    // A trashed page is no longer found by search.
    const found = await callTool(me.client, "search", { query: "old meeting" });
    expect((found.json as List).results).toEqual([]);
    // Restoring it sends only `in_trash`.
    const restore = await callTool(me.client, "update_page", { page_id: me.seed.subPageId, in_trash: false });
    expect(restore.isError).toBe(false);
    expect(sent(me.key, mark)[2]?.body).toEqual({ in_trash: false });
    // The writes dropped the cached read: the page is read again, with its new title.
    const after = await callTool(me.client, "get_page", { page_id: me.seed.subPageId });
    expect(title(after)).toBe("Old meeting notes");
    expect(after.json).toMatchObject({ in_trash: false });
    expect(sent(me.key, mark)).toHaveLength(4);
  });

  test("create_page: a row with typed column values (properties map) next to the plain title", async () => {
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
      parent_data_source_id: seed.dataSourceId,
      title: "Launch v2",
      properties,
    });
    expect(res.isError).toBe(false);
    const req = onlyRequest(key, mark);
    expect([req.method, req.path]).toEqual(["POST", "/v1/pages"]);
    // The map is the body's `properties`; the plain title lands beside it under the title's id.
    expect(req.body).toEqual({
      parent: { data_source_id: seed.dataSourceId },
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
    // A new select name adds the option to the data source, as Notion does.
    const schema = await callTool(client, "get_data_source", { data_source_id: seed.dataSourceId });
    expect(schema.json).toMatchObject({
      properties: { Tags: { multi_select: { options: [{}, {}, {}, { name: "mobile" }] } } },
    });
    // The row is there with its values.
    const rows = await callTool(client, "query_data_source", {
      data_source_id: seed.dataSourceId,
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
    await expectInvalidParams(client, "query_data_source", {
      data_source_id: seed.dataSourceId,
      filter: { property: "Name", formula: { string: { equals: "x" } } },
    });
    await expectInvalidParams(client, "query_data_source", { data_source_id: `${seed.dataSourceId}/../x` });
    await expectInvalidParams(client, "get_data_source", { data_source_id: "..%2Fdatabases" });
    await expectInvalidParams(client, "list_users", { page_size: 101 });
    await expectInvalidParams(client, "search", { filter: { property: "title", value: "page" } });
    // The 2022-06-28 shapes are gone from the tools: no `database` search filter, database parent or `archived`.
    await expectInvalidParams(client, "search", { filter: { property: "object", value: "database" } });
    await expectInvalidParams(client, "create_page", { parent_database_id: seed.databaseId, title: "Old" });
    await expectInvalidParams(client, "update_page", { page_id: seed.subPageId, archived: true });
    await expectInvalidParams(client, "query_data_source", { database_id: seed.databaseId });
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
      parent_data_source_id: seed.dataSourceId,
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
      parent_data_source_id: seed.dataSourceId,
      title: "Ghost row",
      properties: { Priority: { select: { name: "High" } } },
    });
    expect(unknown.isError).toBe(true);
    expect(unknown.text).toContain("Priority is not a property that exists.");
    expect(onlyRequest(key, mark).body).toMatchObject({
      properties: { Priority: { select: { name: "High" } } },
    });
    const ghost = await callTool(client, "query_data_source", {
      data_source_id: seed.dataSourceId,
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
    // A page outside a data source has only its title.
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
    const noSource = await callTool(client, "get_data_source", { data_source_id: missing });
    expect(noSource.isError).toBe(true);
    expect(noSource.text).toContain(`Could not find data_source with ID: ${missing}`);

    // Both parents: Notion refuses the body.
    const both = await callTool(client, "create_page", {
      parent_page_id: seed.rootPageId,
      parent_data_source_id: seed.dataSourceId,
      title: "Nope",
    });
    expect(both.isError).toBe(true);
    expect(both.text).toContain("body failed validation");

    const badFilter = await callTool(client, "query_data_source", {
      data_source_id: seed.dataSourceId,
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

describe("Notion-Version 2025-09-03, and what the old version gets", () => {
  /** A request straight to the fake (not through the platform), with this Notion-Version. */
  async function raw(
    key: string,
    version: string | undefined,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    direct.add(key);
    const headers: Record<string, string> = { authorization: `Bearer ${key}` };
    if (version !== undefined) headers["notion-version"] = version;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`${fake.url}${path}`, {
      method,
      headers,
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  test("the definition pins Notion-Version 2025-09-03", () => {
    const definition = JSON.parse(
      readFileSync(
        new URL("../../packages/services/definitions/notion/config.json", import.meta.url),
        "utf8",
      ),
    ) as { headers: Record<string, string> };
    expect(definition.headers).toEqual({ "Notion-Version": "2025-09-03" });
    expect(NOTION_VERSION).toBe("2025-09-03");
  });

  test("2022-06-28 on a database with two data sources: Notion's 400 validation_error with the data source ids", async () => {
    const { key, seed } = notionKey("olga");
    const multiSource = {
      object: "error",
      status: 400,
      code: "validation_error",
      message: "Databases with multiple data sources are not supported in this API version.",
      additional_data: {
        error_type: "multiple_data_sources_for_database",
        database_id: seed.databaseId,
        child_data_source_ids: [seed.dataSourceId, seed.bugsDataSourceId],
        minimum_api_version: "2025-09-03",
      },
      request_id: expect.any(String),
    };
    // Query, retrieve, and a page created with the database as parent: the three the upgrade guide names.
    const query = await raw(key, OLD_NOTION_VERSION, "POST", `/v1/databases/${seed.databaseId}/query`, {});
    expect(query).toEqual({ status: 400, body: multiSource });
    const retrieve = await raw(key, OLD_NOTION_VERSION, "GET", `/v1/databases/${noDashes(seed.databaseId)}`);
    expect(retrieve).toEqual({ status: 400, body: multiSource });
    const create = await raw(key, OLD_NOTION_VERSION, "POST", "/v1/pages", {
      parent: { database_id: seed.databaseId },
      properties: { title: { title: text("Old style row") } },
    });
    expect(create).toEqual({ status: 400, body: multiSource });
    // The data source endpoints do not exist before 2025-09-03.
    const sources = await raw(key, OLD_NOTION_VERSION, "GET", `/v1/data_sources/${seed.dataSourceId}`);
    expect(sources.status).toBe(400);
    expect(sources.body).toMatchObject({ object: "error", code: "invalid_request_url" });
    // Nothing was written.
    const rows = await raw(key, NOTION_VERSION, "POST", `/v1/data_sources/${seed.dataSourceId}/query`, {});
    expect((rows.body.results as { id: string }[]).map((r) => r.id)).toEqual(seed.rowIds);
  });

  test("2025-09-03: the database query path is gone, the header is required and other versions are refused", async () => {
    const { key, seed } = notionKey("pia");
    const oldQuery = await raw(key, NOTION_VERSION, "POST", `/v1/databases/${seed.databaseId}/query`, {});
    expect(oldQuery).toEqual({
      status: 400,
      body: {
        object: "error",
        status: 400,
        code: "invalid_request_url",
        message: "Invalid request URL.",
        request_id: expect.any(String),
      },
    });
    const missing = await raw(key, undefined, "GET", "/v1/users/me");
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ object: "error", code: "missing_version" });
    for (const version of [OLD_NOTION_VERSION, "2026-03-11"]) {
      const other = await raw(key, version, "GET", "/v1/users/me");
      expect(other.status).toBe(400);
      expect(other.body).toMatchObject({ object: "error", status: 400, code: "validation_error" });
      expect(String(other.body.message)).toContain("Notion-Version");
    }
    const ok = await raw(key, NOTION_VERSION, "GET", "/v1/users/me");
    expect(ok).toMatchObject({ status: 200, body: { object: "user", id: seed.botId } });
  });

  test("Notion's multi-source error, were the old version ever answered, reaches the model with its message", async () => {
    const { client, seed } = await connected("quinn");
    fake.answerNext(() =>
      json(
        notionError(
          400,
          "validation_error",
          "Databases with multiple data sources are not supported in this API version.",
          {
            error_type: "multiple_data_sources_for_database",
            database_id: seed.databaseId,
            child_data_source_ids: [seed.dataSourceId, seed.bugsDataSourceId],
            minimum_api_version: "2025-09-03",
          },
        ),
        400,
      ),
    );
    const res = await callTool(client, "get_database", { database_id: seed.databaseId });
    expect(res.isError).toBe(true);
    expect(res.text).toContain("Databases with multiple data sources are not supported in this API version.");
  });

  test("every request the platform sent in this suite carried Notion-Version 2025-09-03", () => {
    const platform = fake.requests.filter(
      (r) => !direct.has((r.headers.authorization ?? "").replace(/^Bearer /, "")),
    );
    expect(platform.length).toBeGreaterThan(50);
    expect(new Set(platform.map((r) => r.headers["notion-version"]))).toEqual(new Set([NOTION_VERSION]));
  });
});
