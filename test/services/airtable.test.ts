// Airtable through the whole product: users connect their own personal access tokens (checked upstream with
// GET /v0/meta/whoami), and a real MCP client calls every Airtable tool on their instance URLs against a fake
// shaped like the documented Airtable Web API.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Client } from "@modelcontextprotocol/client";
import { data, trpc } from "../client.ts";
import {
  AIRTABLE_ERRORS,
  type FakeAirtable,
  type FakeAirtableAccount,
  startAirtableFake,
} from "../fakes/airtable.ts";
import type { RecordedUpstreamRequest } from "../fakes/upstream.ts";
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

let fake: FakeAirtable;
let stack: Stack;

beforeAll(async () => {
  fake = await startAirtableFake();
  stack = await startServiceStack("airtable", fake.url);
});

afterAll(async () => {
  await stack?.stop();
  fake?.stop();
});

/** An obviously fake token (real ones are `pat` + 14 characters + `.` + 64 hex digits). */
const fakeToken = (label: string) => `pat_fake_${label}_${crypto.randomUUID().replaceAll("-", "")}`;

interface Airtabler {
  token: string;
  account: FakeAirtableAccount;
  user: TestUser;
  client: Client;
  /** The requests the fake received with this user's token, since the user connected. */
  seen(): RecordedUpstreamRequest[];
}

/** A fresh user whose fresh token the fake accepts, with Airtable connected and an MCP client on it. */
async function airtabler(
  label: string,
  opts?: { emailScope?: boolean; extraBases?: number },
): Promise<Airtabler> {
  const token = fakeToken(label);
  const account = fake.addKey(token, label, opts);
  const { user, client } = await userWithInstance(stack, "airtable", token);
  const mark = fake.requests.length;
  const seen = () => fake.requests.slice(mark).filter((r) => r.headers.authorization === `Bearer ${token}`);
  return { token, account, user, client, seen };
}

const projectBase = (a: Airtabler) => a.account.bases[0] ?? expect.unreachable("seeded base");
const tasksTable = (a: Airtabler) => projectBase(a).tables[0] ?? expect.unreachable("seeded table");
const taskRecord = (a: Airtabler, i = 0) => tasksTable(a).records[i] ?? expect.unreachable("seeded record");

/** Everything the fake received since `mark`. */
const since = (mark: number) => fake.requests.slice(mark);

describe("connecting Airtable", () => {
  test("a token Airtable rejects → 400 INVALID_API_KEY, checked with GET /v0/meta/whoami, nothing stored", async () => {
    const user = await newUser(stack);
    const wrong = fakeToken("wrong");
    const mark = fake.requests.length;
    const res = await connectRaw(stack, user, "airtable", wrong);
    expect(res.status).toBe(400);
    expect(res.body.error?.data.appCode).toBe("INVALID_API_KEY");
    const checks = since(mark).filter((r) => r.headers.authorization === `Bearer ${wrong}`);
    expect(checks.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /v0/meta/whoami"]);
    const list = await trpc(stack, "instances.list", undefined, { cookie: user.cookie });
    expect(data<unknown[]>(list)).toEqual([]);
  });

  test("a good token connects; the account shown is the whoami user id and email", async () => {
    const a = await airtabler("connie");
    const list = await trpc(stack, "instances.list", undefined, { cookie: a.user.cookie });
    const [instance] = data<{ serviceType: string; status: string; account: unknown }[]>(list);
    expect(instance?.serviceType).toBe("airtable");
    expect(instance?.status).toBe("active");
    expect(instance?.account).toEqual({ id: a.account.user.id, email: "connie@example.com" });
  });

  test("lists all ten tools with truthful annotations", async () => {
    const a = await airtabler("lister");
    const { tools } = await a.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      "create_comment",
      "create_records",
      "delete_record",
      "get_base_schema",
      "get_current_user",
      "get_record",
      "list_bases",
      "list_comments",
      "list_records",
      "update_records",
    ]);
    const hints = Object.fromEntries(tools.map((t) => [t.name, t.annotations]));
    expect(hints.delete_record).toMatchObject({
      readOnlyHint: false,
      destructiveHint: true,
      openWorldHint: true,
    });
    expect(hints.create_comment).toMatchObject({
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: false,
    });
    // Creating twice makes duplicates; a PATCH overwrites the cells it names (so destructive) but repeating
    // it changes nothing more (idempotent).
    expect(hints.create_records).toMatchObject({
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: false,
      openWorldHint: true,
    });
    expect(hints.update_records).toMatchObject({
      readOnlyHint: false,
      destructiveHint: true,
      idempotentHint: true,
      openWorldHint: true,
    });
    for (const name of ["get_current_user", "list_bases", "get_base_schema", "list_records", "get_record"]) {
      expect(hints[name]).toMatchObject({ readOnlyHint: true, destructiveHint: false, openWorldHint: true });
    }
    // Paginated tools get a cursor input.
    const listRecords = tools.find((t) => t.name === "list_records");
    expect(Object.keys(listRecords?.inputSchema.properties ?? {})).toContain("cursor");
  });
});

describe("every tool, with the user's own token", () => {
  test("get_current_user → GET /v0/meta/whoami: the user id and email", async () => {
    const a = await airtabler("ada");
    const r = await callTool(a.client, "get_current_user");
    expect(r.isError).toBe(false);
    expect(r.json).toEqual({ id: a.account.user.id, email: "ada@example.com" });
    const [req] = a.seen();
    expect(req).toMatchObject({ method: "GET", path: "/v0/meta/whoami", query: {} });
    expect(req?.headers.authorization).toBe(`Bearer ${a.token}`);
  });

  test("get_current_user without the user.email:read scope: only the id", async () => {
    const a = await airtabler("noemail", { emailScope: false });
    const r = await callTool(a.client, "get_current_user");
    expect(r.json).toEqual({ id: a.account.user.id });
  });

  test("list_bases → GET /v0/meta/bases: ids, names and permission levels, no raw offset", async () => {
    const a = await airtabler("bea");
    const r = await callTool(a.client, "list_bases");
    expect(r.isError).toBe(false);
    expect(r.json).toEqual({
      bases: a.account.bases.map(({ id, name, permissionLevel }) => ({ id, name, permissionLevel })),
    });
    expect(a.seen().map((q) => `${q.method} ${q.path}`)).toEqual(["GET /v0/meta/bases"]);
    expect(a.seen()[0]?.headers.authorization).toBe(`Bearer ${a.token}`);
  });

  test("list_bases pages 1000 at a time: nextCursor → offset, to the end", async () => {
    const a = await airtabler("many", { extraBases: 1001 });
    const first = await callTool(a.client, "list_bases");
    const page1 = first.json as { bases: { id: string }[]; nextCursor?: string };
    expect(page1.bases).toHaveLength(1000);
    expect(page1.nextCursor).toBeString();
    const second = await callTool(a.client, "list_bases", { cursor: page1.nextCursor });
    const page2 = second.json as { bases: { id: string }[]; nextCursor?: string };
    expect(page2.bases).toHaveLength(3);
    expect(page2.nextCursor).toBeUndefined();
    const ids = [...page1.bases, ...page2.bases].map((b) => b.id);
    expect(new Set(ids).size).toBe(1003);
    expect(ids).toEqual(a.account.bases.map((b) => b.id));
    const [req1, req2] = a.seen();
    expect(req1?.query).toEqual({});
    // The offset Airtable answered on page 1 went back as the offset query parameter.
    expect(req2?.query.offset).toMatch(/^itr[A-Za-z0-9]{14}\/app[A-Za-z0-9]{14}$/);
    expect(req2?.query.offset?.endsWith(`/${page1.bases.at(-1)?.id}`)).toBe(true);
  });

  test("get_base_schema → GET /v0/meta/bases/{baseId}/tables: tables, fields, choices and views", async () => {
    const a = await airtabler("sam");
    const base = projectBase(a);
    const r = await callTool(a.client, "get_base_schema", { baseId: base.id });
    expect(r.isError).toBe(false);
    const { tables } = r.json as {
      tables: {
        id: string;
        name: string;
        primaryFieldId: string;
        fields: { id: string; name: string; type: string; options?: { choices?: unknown[] } }[];
        views: unknown[];
      }[];
    };
    expect(tables.map((t) => t.name)).toEqual(["Tasks", "Team Members"]);
    const tasks = tables[0];
    expect(tasks?.id).toBe(tasksTable(a).id);
    expect(tasks?.primaryFieldId).toBe(tasksTable(a).primaryFieldId);
    expect(tasks?.fields.map((f) => `${f.name}:${f.type}`)).toEqual([
      "Name:singleLineText",
      "Status:singleSelect",
      "Priority:number",
      "Notes:multilineText",
      "Urgent:checkbox",
    ]);
    // Select choices keep their names only (ids and colours are noise for a model).
    expect(tasks?.fields[1]?.options?.choices).toEqual([
      { name: "Todo" },
      { name: "In progress" },
      { name: "Done" },
    ]);
    expect(tasks?.views).toEqual(tasksTable(a).views.map(({ id, name, type }) => ({ id, name, type })));
    const [req] = a.seen();
    expect(req).toMatchObject({ method: "GET", path: `/v0/meta/bases/${base.id}/tables` });
    expect(req?.headers.authorization).toBe(`Bearer ${a.token}`);
  });

  test("list_records → GET /v0/{baseId}/{table} with view, filterByFormula and sort[n][field]/[direction]", async () => {
    const a = await airtabler("lou");
    const base = projectBase(a);
    const r = await callTool(a.client, "list_records", {
      baseId: base.id,
      tableIdOrName: "Tasks",
      view: "Open tasks",
      filterByFormula: "{Priority} >= 3",
      sort_field: "Urgent",
      sort_direction: "desc",
      then_sort_field: "Priority",
      then_sort_direction: "asc",
      maxRecords: 10,
    });
    expect(r.isError).toBe(false);
    const { records, nextCursor } = r.json as {
      records: { id: string; createdTime: string; fields: Record<string, unknown> }[];
      nextCursor?: string;
    };
    expect(nextCursor).toBeUndefined();
    // Open (not Done), priority ≥ 3; urgent first, then by priority.
    expect(records.map((x) => x.fields.Name)).toEqual([
      "lou: review designs",
      "lou: fix login bug",
      "lou: ship v1",
    ]);
    expect(records[0]).toEqual({
      id: taskRecord(a, 1).id,
      createdTime: taskRecord(a, 1).createdTime,
      fields: { Name: "lou: review designs", Status: "In progress", Priority: 3, Urgent: true },
    });
    // Empty cells (false) are left out, as Airtable does.
    expect(records[2]?.fields).not.toHaveProperty("Urgent");
    const [req] = a.seen();
    expect(req?.method).toBe("GET");
    expect(req?.path).toBe(`/v0/${base.id}/Tasks`);
    expect(req?.query).toEqual({
      view: "Open tasks",
      filterByFormula: "{Priority} >= 3",
      "sort[0][field]": "Urgent",
      "sort[0][direction]": "desc",
      "sort[1][field]": "Priority",
      "sort[1][direction]": "asc",
      maxRecords: "10",
    });
    expect(req?.headers.authorization).toBe(`Bearer ${a.token}`);
  });

  test("list_records on a table name with a space: one encoded path segment", async () => {
    const a = await airtabler("tess");
    const base = projectBase(a);
    const r = await callTool(a.client, "list_records", { baseId: base.id, tableIdOrName: "Team Members" });
    expect(r.isError).toBe(false);
    expect((r.json as { records: { fields: unknown }[] }).records.map((x) => x.fields)).toEqual([
      { "Full name": "tess", Role: "Owner" },
      { "Full name": "Grace", Role: "Editor" },
    ]);
    expect(a.seen()[0]?.path).toBe(`/v0/${base.id}/Team%20Members`);
  });

  test("list_records by table id, with returnFieldsByFieldId: cells keyed by field id", async () => {
    const a = await airtabler("fid");
    const table = tasksTable(a);
    const r = await callTool(a.client, "list_records", {
      baseId: projectBase(a).id,
      tableIdOrName: table.id,
      returnFieldsByFieldId: true,
      maxRecords: 1,
    });
    const nameId = table.fields[0]?.id ?? "";
    const { records } = r.json as { records: { fields: Record<string, unknown> }[] };
    expect(records).toHaveLength(1);
    expect(records[0]?.fields[nameId]).toBe("fid: write the brief");
    expect(a.seen()[0]?.query).toEqual({ returnFieldsByFieldId: "true", maxRecords: "1" });
  });

  test("list_records pages: nextCursor → the next page (same arguments + offset), to the end", async () => {
    const a = await airtabler("paige");
    const args = { baseId: projectBase(a).id, tableIdOrName: "Tasks", pageSize: 2 };
    const ids: string[] = [];
    const cursors: (string | undefined)[] = [];
    let cursor: string | undefined;
    do {
      const r = await callTool(a.client, "list_records", cursor ? { ...args, cursor } : args);
      expect(r.isError).toBe(false);
      const page = r.json as { records: { id: string }[]; nextCursor?: string; offset?: unknown };
      expect(page.offset).toBeUndefined();
      ids.push(...page.records.map((x) => x.id));
      cursor = page.nextCursor;
      cursors.push(cursor);
    } while (cursor && cursors.length < 10);
    expect(cursors.map((c) => c !== undefined)).toEqual([true, true, false]);
    expect(ids).toEqual(tasksTable(a).records.map((x) => x.id));
    const reqs = a.seen();
    expect(reqs).toHaveLength(3);
    expect(reqs[0]?.query).toEqual({ pageSize: "2" });
    expect(reqs[1]?.query).toEqual({
      pageSize: "2",
      offset: expect.stringMatching(/^itr[A-Za-z0-9]{14}\/rec/),
    });
    expect(reqs[2]?.query.offset).toMatch(/^itr[A-Za-z0-9]{14}\/rec/);
    expect(reqs[2]?.query.offset).not.toBe(reqs[1]?.query.offset);
    for (const req of reqs) expect(req.path).toBe(`/v0/${projectBase(a).id}/Tasks`);
  });

  test("get_record → GET /v0/{baseId}/{table}/{recordId}: id, createdTime, non-empty fields", async () => {
    const a = await airtabler("rex");
    const rec = taskRecord(a, 0);
    const r = await callTool(a.client, "get_record", {
      baseId: projectBase(a).id,
      tableIdOrName: tasksTable(a).id,
      recordId: rec.id,
    });
    expect(r.isError).toBe(false);
    expect(r.json).toEqual({
      id: rec.id,
      createdTime: rec.createdTime,
      fields: { Name: "rex: write the brief", Status: "Done", Priority: 2 },
    });
    const [req] = a.seen();
    expect(req).toMatchObject({
      method: "GET",
      path: `/v0/${projectBase(a).id}/${tasksTable(a).id}/${rec.id}`,
      query: {},
    });
    expect(req?.headers.authorization).toBe(`Bearer ${a.token}`);
  });

  test("delete_record → DELETE /v0/{baseId}/{table}/{recordId}; the record is gone afterwards", async () => {
    const a = await airtabler("dee");
    const base = projectBase(a);
    const rec = taskRecord(a, 4);
    const args = { baseId: base.id, tableIdOrName: "Tasks", recordId: rec.id };
    const before = await callTool(a.client, "get_record", args);
    expect(before.isError).toBe(false);
    const r = await callTool(a.client, "delete_record", args);
    expect(r.isError).toBe(false);
    expect(r.json).toEqual({ deleted: true, id: rec.id });
    expect(tasksTable(a).records.map((x) => x.id)).not.toContain(rec.id);
    // The write refreshed this user's cached reads: the same get_record asks Airtable again (404).
    const after = await callTool(a.client, "get_record", args);
    expect(after.isError).toBe(true);
    expect(after.text).toContain("NOT_FOUND");
    expect(a.seen().map((q) => `${q.method} ${q.path}`)).toEqual([
      `GET /v0/${base.id}/Tasks/${rec.id}`,
      `DELETE /v0/${base.id}/Tasks/${rec.id}`,
      `GET /v0/${base.id}/Tasks/${rec.id}`,
    ]);
    expect(a.seen()[1]?.text).toBe("");
  });

  test("create_comment → POST .../comments {text, parentCommentId}; list_comments reads them back", async () => {
    const a = await airtabler("cora");
    const base = projectBase(a);
    const rec = taskRecord(a, 2);
    const where = { baseId: base.id, tableIdOrName: "Tasks", recordId: rec.id };
    const created = await callTool(a.client, "create_comment", { ...where, text: "Looks good to me" });
    expect(created.isError).toBe(false);
    const top = created.json as { id: string; text: string; author: { id: string }; lastUpdatedTime: null };
    expect(top.id).toMatch(/^com[A-Za-z0-9]{14}$/);
    expect(top).toMatchObject({
      text: "Looks good to me",
      author: { id: a.account.user.id },
      lastUpdatedTime: null,
    });
    const reply = await callTool(a.client, "create_comment", {
      ...where,
      text: "Agreed",
      parentCommentId: top.id,
    });
    expect(reply.isError).toBe(false);
    expect(reply.json).toMatchObject({ text: "Agreed", parentCommentId: top.id });

    const listed = await callTool(a.client, "list_comments", where);
    expect(listed.isError).toBe(false);
    const { comments, nextCursor } = listed.json as {
      comments: { text: string; author: unknown }[];
      nextCursor?: string;
    };
    expect(nextCursor).toBeUndefined();
    expect(comments.map((c) => c.text)).toEqual(["Agreed", "Looks good to me"]);
    expect(comments[0]?.author).toEqual({ id: a.account.user.id, email: "cora@example.com", name: "cora" });

    const reqs = a.seen();
    expect(reqs.map((q) => `${q.method} ${q.path}`)).toEqual([
      `POST /v0/${base.id}/Tasks/${rec.id}/comments`,
      `POST /v0/${base.id}/Tasks/${rec.id}/comments`,
      `GET /v0/${base.id}/Tasks/${rec.id}/comments`,
    ]);
    expect(reqs[0]?.headers["content-type"]).toStartWith("application/json");
    expect(reqs[0]?.body).toEqual({ text: "Looks good to me" });
    expect(reqs[1]?.body).toEqual({ text: "Agreed", parentCommentId: top.id });
    for (const req of reqs) expect(req.headers.authorization).toBe(`Bearer ${a.token}`);
  });

  test("list_comments pages with pageSize: nextCursor → offset, to the end (offset: null)", async () => {
    const a = await airtabler("pam");
    const where = { baseId: projectBase(a).id, tableIdOrName: "Tasks", recordId: taskRecord(a, 3).id };
    for (const text of ["one", "two", "three"]) {
      expect((await callTool(a.client, "create_comment", { ...where, text })).isError).toBe(false);
    }
    const first = await callTool(a.client, "list_comments", { ...where, pageSize: 2 });
    const page1 = first.json as { comments: { text: string }[]; nextCursor?: string };
    expect(page1.comments.map((c) => c.text)).toEqual(["three", "two"]);
    expect(page1.nextCursor).toBeString();
    const second = await callTool(a.client, "list_comments", {
      ...where,
      pageSize: 2,
      cursor: page1.nextCursor,
    });
    const page2 = second.json as { comments: { text: string }[]; nextCursor?: string };
    expect(page2.comments.map((c) => c.text)).toEqual(["one"]);
    expect(page2.nextCursor).toBeUndefined();
    const gets = a.seen().filter((q) => q.method === "GET");
    expect(gets[0]?.query).toEqual({ pageSize: "2" });
    expect(gets[1]?.query).toEqual({
      pageSize: "2",
      offset: expect.stringMatching(/^itr[A-Za-z0-9]{14}\/com/),
    });
  });
});

describe("writing records", () => {
  type Written = { records: { id: string; createdTime: string; fields: Record<string, unknown> }[] };

  test("list_records with fields → one fields[] parameter per name; only those cells come back", async () => {
    const a = await airtabler("fern");
    const base = projectBase(a);
    const r = await callTool(a.client, "list_records", {
      baseId: base.id,
      tableIdOrName: "Tasks",
      fields: ["Name", "Status"],
      maxRecords: 2,
    });
    expect(r.isError).toBe(false);
    expect((r.json as Written).records.map((x) => x.fields)).toEqual([
      { Name: "fern: write the brief", Status: "Done" },
      { Name: "fern: review designs", Status: "In progress" },
    ]);
    const [req] = a.seen();
    expect(req?.path).toBe(`/v0/${base.id}/Tasks`);
    const raw = (req && fake.rawQuery(req)) ?? "";
    // Repeated, not comma-joined: ?fields%5B%5D=Name&fields%5B%5D=Status
    expect(raw.match(/fields%5B%5D=/g)).toHaveLength(2);
    expect(new URLSearchParams(raw).getAll("fields[]")).toEqual(["Name", "Status"]);
    expect(new URLSearchParams(raw).get("maxRecords")).toBe("2");

    const unknown = await callTool(a.client, "list_records", {
      baseId: base.id,
      tableIdOrName: "Tasks",
      fields: ["Name", "Colour"],
    });
    expect(unknown.isError).toBe(true);
    expect(unknown.text).toContain('Unknown field name: "Colour"');
  });

  test("create_records → POST /v0/{baseId}/{table} {records: [{fields}], typecast: true}: strings typecast", async () => {
    const a = await airtabler("cal");
    const base = projectBase(a);
    const table = tasksTable(a);
    const r = await callTool(a.client, "create_records", {
      baseId: base.id,
      tableIdOrName: table.id,
      records: [
        { fields: { Name: "cal: ship v2", Status: "Todo", Priority: "4", Urgent: "true" } },
        { fields: { Name: "cal: triage", Status: "Blocked", Notes: "New option" } },
        { fields: {} },
      ],
    });
    expect(r.isError).toBe(false);
    const { records } = r.json as Written;
    expect(records).toHaveLength(3);
    for (const rec of records) {
      expect(rec.id).toMatch(/^rec[A-Za-z0-9]{14}$/);
      expect(rec.createdTime).toMatch(/^\d{4}-\d\d-\d\dT/);
    }
    // Airtable converted "4" and "true", and created the missing "Blocked" option.
    expect(records.map((x) => x.fields)).toEqual([
      { Name: "cal: ship v2", Status: "Todo", Priority: 4, Urgent: true },
      { Name: "cal: triage", Status: "Blocked", Notes: "New option" },
      {},
    ]);
    expect(table.records.slice(5).map((x) => x.id)).toEqual(records.map((x) => x.id));
    const status = table.fields.find((f) => f.name === "Status");
    const choices = (status?.options?.choices ?? []) as { name: string }[];
    expect(choices.map((c) => c.name)).toContain("Blocked");

    const [req] = a.seen();
    expect(req?.method).toBe("POST");
    expect(req?.path).toBe(`/v0/${base.id}/${table.id}`);
    expect(req?.query).toEqual({});
    expect(req?.headers["content-type"]).toStartWith("application/json");
    expect(req?.headers.authorization).toBe(`Bearer ${a.token}`);
    expect(req?.body).toEqual({
      typecast: true,
      records: [
        { fields: { Name: "cal: ship v2", Status: "Todo", Priority: "4", Urgent: "true" } },
        { fields: { Name: "cal: triage", Status: "Blocked", Notes: "New option" } },
        { fields: {} },
      ],
    });

    // The new record reads back.
    const read = await callTool(a.client, "get_record", {
      baseId: base.id,
      tableIdOrName: "Tasks",
      recordId: records[0]?.id ?? "",
    });
    expect(read.json).toMatchObject({ fields: { Priority: 4, Urgent: true } });
  });

  test("create_records with typecast: false → the body says so; a text number is refused, nothing created", async () => {
    const a = await airtabler("tia");
    const base = projectBase(a);
    const strict = await callTool(a.client, "create_records", {
      baseId: base.id,
      tableIdOrName: "Tasks",
      typecast: false,
      records: [{ fields: { Name: "tia: plain text is fine" } }, { fields: { Name: "x", Priority: "3" } }],
    });
    expect(strict.isError).toBe(true);
    expect(strict.text).toContain("422");
    expect(strict.text).toContain('Field "Priority" cannot accept the provided value');
    const select = await callTool(a.client, "create_records", {
      baseId: base.id,
      tableIdOrName: "Tasks",
      typecast: false,
      records: [{ fields: { Name: "y", Status: "Blocked" } }],
    });
    expect(select.isError).toBe(true);
    expect(select.text).toContain('Insufficient permissions to create new select option ""Blocked""');
    expect(tasksTable(a).records).toHaveLength(5);
    const ok = await callTool(a.client, "create_records", {
      baseId: base.id,
      tableIdOrName: "Tasks",
      typecast: false,
      records: [{ fields: { Name: "tia: text only", Status: "Done" } }],
    });
    expect(ok.isError).toBe(false);
    expect((ok.json as Written).records[0]?.fields).toEqual({ Name: "tia: text only", Status: "Done" });
    const bodies = a.seen().map((q) => q.body as { typecast: unknown });
    expect(bodies.map((b) => b.typecast)).toEqual([false, false, false]);
    expect(tasksTable(a).records).toHaveLength(6);
  });

  test("create_records with an unknown field → 422 UNKNOWN_FIELD_NAME surfaced with Airtable's message", async () => {
    const a = await airtabler("ugo");
    const r = await callTool(a.client, "create_records", {
      baseId: projectBase(a).id,
      tableIdOrName: "Tasks",
      records: [{ fields: { Name: "ugo: ok" } }, { fields: { Name: "ugo: bad", Colour: "red" } }],
    });
    expect(r.isError).toBe(true);
    expect(r.text).toContain("422");
    expect(r.text).toContain('Unknown field name: "Colour"');
    // All or nothing: the valid first record was not created either.
    expect(tasksTable(a).records).toHaveLength(5);
    expect(a.seen()).toHaveLength(1);
  });

  test("create_records in a read-only base → 403 INVALID_PERMISSIONS, access refused", async () => {
    const a = await airtabler("rob");
    const readOnly = a.account.bases[1] ?? expect.unreachable("seeded base");
    const r = await callTool(a.client, "create_records", {
      baseId: readOnly.id,
      tableIdOrName: "Apartments",
      records: [{ fields: { Name: "Nob Hill" } }],
    });
    expect(r.isError).toBe(true);
    expect(r.text).toContain("You are not permitted to perform this operation");
    expect(readOnly.tables[0]?.records).toHaveLength(1);
  });

  test("update_records → PATCH /v0/{baseId}/{table} {records: [{id, fields}], typecast}: other cells kept, idempotent", async () => {
    const a = await airtabler("uma");
    const base = projectBase(a);
    const first = taskRecord(a, 0);
    const third = taskRecord(a, 2);
    const args = {
      baseId: base.id,
      tableIdOrName: "Tasks",
      records: [
        { id: first.id, fields: { Status: "In progress", Priority: "7", Urgent: "yes" } },
        { id: third.id, fields: { Notes: "" } },
      ],
    };
    const r = await callTool(a.client, "update_records", args);
    expect(r.isError).toBe(false);
    const expected = [
      {
        id: first.id,
        createdTime: first.createdTime,
        fields: { Name: "uma: write the brief", Status: "In progress", Priority: 7, Urgent: true },
      },
      // The emptied Notes cell is gone; the others are untouched.
      {
        id: third.id,
        createdTime: third.createdTime,
        fields: { Name: "uma: ship v1", Status: "Todo", Priority: 5 },
      },
    ];
    expect((r.json as Written).records).toEqual(expected);
    const again = await callTool(a.client, "update_records", args);
    expect((again.json as Written).records).toEqual(expected);
    expect(tasksTable(a).records).toHaveLength(5);

    const reqs = a.seen();
    expect(reqs.map((q) => `${q.method} ${q.path}`)).toEqual([
      `PATCH /v0/${base.id}/Tasks`,
      `PATCH /v0/${base.id}/Tasks`,
    ]);
    expect(reqs[0]?.headers["content-type"]).toStartWith("application/json");
    expect(reqs[0]?.body).toEqual({ typecast: true, records: args.records });
    expectOnlyCredential(reqs, "authorization", `Bearer ${a.token}`);
  });

  test("update_records with a record id not in the table → 422 ROW_DOES_NOT_EXIST, nothing changed", async () => {
    const a = await airtabler("ned");
    const rec = taskRecord(a, 1);
    const r = await callTool(a.client, "update_records", {
      baseId: projectBase(a).id,
      tableIdOrName: "Tasks",
      records: [
        { id: rec.id, fields: { Status: "Done" } },
        { id: "recAAAAAAAAAAAAAA", fields: { Status: "Done" } },
      ],
    });
    expect(r.isError).toBe(true);
    expect(r.text).toContain("Record ID recAAAAAAAAAAAAAA does not exist in this table");
    expect(rec.fields.Status).toBe("In progress");
    const unknown = await callTool(a.client, "update_records", {
      baseId: projectBase(a).id,
      tableIdOrName: "Tasks",
      records: [{ id: rec.id, fields: { Colour: "red" } }],
    });
    expect(unknown.isError).toBe(true);
    expect(unknown.text).toContain('Unknown field name: "Colour"');
  });

  test("more than 10 records, too many or too long cells, non-text values → refused before any request", async () => {
    const a = await airtabler("max");
    const baseId = projectBase(a).id;
    const recordId = taskRecord(a).id;
    const mark = fake.requests.length;
    const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`Field ${i}`, "x"]));
    const eleven = Array.from({ length: 11 }, (_, i) => ({ fields: { Name: `n${i}` } }));
    const where = { baseId, tableIdOrName: "Tasks" };
    const refused: [string, Record<string, unknown>][] = [
      ["create_records", { ...where, records: eleven }],
      ["create_records", { ...where, records: [] }],
      ["create_records", { ...where }],
      ["create_records", { ...where, records: [{ fields: many(101) }] }],
      ["create_records", { ...where, records: [{ fields: { Notes: "x".repeat(100_001) } }] }],
      ["create_records", { ...where, records: [{ fields: { Priority: 3 } }] }],
      ["create_records", { ...where, records: [{ fields: { Urgent: true } }] }],
      ["create_records", { ...where, records: [{ fields: { "   ": "blank name" } }] }],
      ["create_records", { ...where, records: [{ fields: { ["x".repeat(256)]: "long name" } }] }],
      ["create_records", { ...where, records: [{ Name: "no fields wrapper" }] }],
      ["create_records", { ...where, records: [{ fields: { Name: "a" }, id: recordId }] }],
      ["create_records", { ...where, records: [{ fields: { Name: "a" } }], typecast: "yes" }],
      ["create_records", { ...where, records: [{ fields: { Name: "a" } }], performUpsert: {} }],
      ["create_records", { baseId, tableIdOrName: "../meta", records: [{ fields: {} }] }],
      ["update_records", { ...where, records: eleven.map((r) => ({ ...r, id: recordId })) }],
      ["update_records", { ...where, records: [{ fields: { Name: "no id" } }] }],
      ["update_records", { ...where, records: [{ id: recordId }] }],
      ["update_records", { ...where, records: [{ id: "rec123/../x", fields: {} }] }],
      ["update_records", { ...where, records: [{ id: recordId, fields: many(101) }] }],
      ["update_records", { ...where, records: [{ id: recordId, fields: { Priority: null } }] }],
    ];
    for (const [tool, args] of refused) {
      const message = await expectInvalidParams(a.client, tool, args);
      expect(message).not.toContain(a.token);
    }
    expect(since(mark).filter((r) => r.headers.authorization === `Bearer ${a.token}`)).toEqual([]);
    expect(tasksTable(a).records).toHaveLength(5);
    // The limits are the schema's: exactly 10 records of 100 cells is accepted.
    const ten = Array.from({ length: 10 }, (_, i) => ({ fields: { Name: `max ${i}`, Priority: `${i}` } }));
    const ok = await callTool(a.client, "create_records", { ...where, records: ten });
    expect(ok.isError).toBe(false);
    expect((ok.json as Written).records).toHaveLength(10);
  });

  test("the fake answers like Airtable past the cap: 422 INVALID_RECORDS for 11 records", async () => {
    const token = fakeToken("direct");
    const account = fake.addKey(token, "direct");
    const url = `${fake.url}/v0/${account.bases[0]?.id}/Tasks`;
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const records = Array.from({ length: 11 }, (_, i) => ({ fields: { Name: `n${i}` } }));
    const created = await fetch(url, { method: "POST", headers, body: JSON.stringify({ records }) });
    expect(created.status).toBe(422);
    expect(await created.json()).toEqual({
      error: {
        type: "INVALID_RECORDS",
        message: "A maximum of 10 records can be created per request but you have provided 11.",
      },
    });
    const id = account.bases[0]?.tables[0]?.records[0]?.id;
    const updated = await fetch(url, {
      method: "PATCH",
      headers,
      body: JSON.stringify({ records: records.map((r) => ({ ...r, id })) }),
    });
    expect(updated.status).toBe(422);
    expect(((await updated.json()) as { error: { type: string } }).error.type).toBe("INVALID_RECORDS");
    expect(account.bases[0]?.tables[0]?.records).toHaveLength(5);
  });
});

describe("isolation between users", () => {
  test("two users at once: each request carries only its owner's token, and data never crosses", async () => {
    const [alice, bob] = await Promise.all([airtabler("alice"), airtabler("bob")]);
    const mark = fake.requests.length;
    const [ra, rb] = await Promise.all([
      callTool(alice.client, "get_base_schema", { baseId: projectBase(alice).id }),
      callTool(bob.client, "get_base_schema", { baseId: projectBase(bob).id }),
      callTool(alice.client, "list_records", { baseId: projectBase(alice).id, tableIdOrName: "Tasks" }),
      callTool(bob.client, "list_records", { baseId: projectBase(bob).id, tableIdOrName: "Tasks" }),
    ]);
    expect(ra?.isError).toBe(false);
    expect(rb?.isError).toBe(false);
    const reqs = since(mark);
    expect(reqs).toHaveLength(4);
    expectOnlyCredential(
      reqs.filter((r) => r.path.includes(projectBase(alice).id)),
      "authorization",
      `Bearer ${alice.token}`,
    );
    expectOnlyCredential(
      reqs.filter((r) => r.path.includes(projectBase(bob).id)),
      "authorization",
      `Bearer ${bob.token}`,
    );

    // Bob's token cannot reach Alice's base: Airtable answers 403, the key still validates, so it is an
    // access refusal (not "reconnect").
    const cross = await callTool(bob.client, "list_records", {
      baseId: projectBase(alice).id,
      tableIdOrName: "Tasks",
    });
    expect(cross.isError).toBe(true);
    expect(cross.text).toContain("Invalid permissions, or the requested model was not found");
    expect(cross.text).not.toMatch(/reconnect/i);
    expect(cross.text).not.toContain(bob.token);
    const bobReqs = bob.seen();
    expectOnlyCredential(bobReqs, "authorization", `Bearer ${bob.token}`);
  });
});

describe("refused input never reaches Airtable", () => {
  test("path escapes, encoded slashes, bad ids, missing or extra arguments, forged cursors → invalid params", async () => {
    const a = await airtabler("mallory");
    const baseId = projectBase(a).id;
    const recordId = taskRecord(a).id;
    const mark = fake.requests.length;
    const refused: [string, Record<string, unknown>][] = [
      ["get_base_schema", { baseId: "../meta/whoami" }],
      ["get_base_schema", { baseId: "appShort" }],
      ["get_base_schema", {}],
      ["list_records", { baseId, tableIdOrName: "../../meta/bases" }],
      ["list_records", { baseId, tableIdOrName: ".." }],
      ["list_records", { baseId, tableIdOrName: "Tasks%2F..%2Fx" }],
      ["list_records", { baseId, tableIdOrName: "%2e%2e" }],
      ["list_records", { baseId, tableIdOrName: "Tasks", pageSize: 101 }],
      ["list_records", { baseId, tableIdOrName: "Tasks", sort_direction: "sideways" }],
      ["list_records", { baseId, tableIdOrName: "Tasks", filterByFormula: "x".repeat(4001) }],
      ["list_records", { baseId, tableIdOrName: "Tasks", fields: [] }],
      [
        "list_records",
        { baseId, tableIdOrName: "Tasks", fields: Array.from({ length: 101 }, (_, i) => `F${i}`) },
      ],
      ["list_records", { baseId, tableIdOrName: "Tasks", fields: "Name" }],
      ["list_records", { baseId, tableIdOrName: "Tasks", cursor: "c1.bm90LWEtY3Vyc29y" }],
      ["list_records", { baseId, tableIdOrName: "Tasks", cursor: "itr123/rec456" }],
      ["get_record", { baseId, tableIdOrName: "Tasks" }],
      ["get_record", { baseId, tableIdOrName: "Tasks", recordId: "rec123/../../x" }],
      ["delete_record", { baseId, tableIdOrName: "Tasks", recordId: `${recordId}%2F` }],
      ["delete_record", { baseId, tableIdOrName: "Tasks/x", recordId }],
      ["create_comment", { baseId, tableIdOrName: "Tasks", recordId }],
      ["create_comment", { baseId, tableIdOrName: "Tasks", recordId, text: "" }],
      ["create_comment", { baseId, tableIdOrName: "Tasks", recordId, text: "hi", parentCommentId: "../x" }],
      ["list_comments", { baseId, tableIdOrName: "Tasks", recordId, pageSize: 0 }],
    ];
    for (const [tool, args] of refused) {
      const message = await expectInvalidParams(a.client, tool, args);
      expect(message).not.toContain(a.token);
    }
    expect(since(mark).filter((r) => r.headers.authorization === `Bearer ${a.token}`)).toEqual([]);
    expect(tasksTable(a).records).toHaveLength(5);
  });
});

describe("Airtable's error answers", () => {
  test("422 INVALID_FILTER_BY_FORMULA → a tool error carrying Airtable's message", async () => {
    const a = await airtabler("fay");
    const r = await callTool(a.client, "list_records", {
      baseId: projectBase(a).id,
      tableIdOrName: "Tasks",
      filterByFormula: "{Colour} = 'red'",
    });
    expect(r.isError).toBe(true);
    expect(r.text).toContain("422");
    expect(r.text).toContain("The formula for filtering records is invalid: Unknown field names: colour");
  });

  test("422 for an unknown sort field, 404 for an unknown table and a missing record → tool errors", async () => {
    const a = await airtabler("nora");
    const baseId = projectBase(a).id;
    const sort = await callTool(a.client, "list_records", {
      baseId,
      tableIdOrName: "Tasks",
      sort_field: "Colour",
    });
    expect(sort.isError).toBe(true);
    expect(sort.text).toContain('Unknown field name: "Colour"');
    const table = await callTool(a.client, "list_records", { baseId, tableIdOrName: "Invoices 2026" });
    expect(table.isError).toBe(true);
    expect(table.text).toContain("404");
    expect(table.text).toContain(`Could not find table Invoices 2026 in application ${baseId}`);
    const missing = await callTool(a.client, "get_record", {
      baseId,
      tableIdOrName: "Tasks",
      recordId: "recAAAAAAAAAAAAAA",
    });
    expect(missing.isError).toBe(true);
    expect(missing.text).toContain("NOT_FOUND");
    expect(a.seen().map((r) => r.path)).toEqual([
      `/v0/${baseId}/Tasks`,
      `/v0/${baseId}/Invoices%202026`,
      `/v0/${baseId}/Tasks/recAAAAAAAAAAAAAA`,
    ]);
  });

  test("deleting in a read-only base: 403 INVALID_PERMISSIONS, the token still validates → access refused", async () => {
    const a = await airtabler("rita");
    const readOnly = a.account.bases[1] ?? expect.unreachable("seeded base");
    const rec = readOnly.tables[0]?.records[0] ?? expect.unreachable("seeded record");
    const r = await callTool(a.client, "delete_record", {
      baseId: readOnly.id,
      tableIdOrName: "Apartments",
      recordId: rec.id,
    });
    expect(r.isError).toBe(true);
    expect(r.text).toContain("You are not permitted to perform this operation");
    expect(r.text).toMatch(/still valid/i);
    expect(readOnly.tables[0]?.records).toHaveLength(1);
    // The refused call, then the key re-checked with whoami.
    expect(a.seen().map((q) => `${q.method} ${q.path}`)).toEqual([
      `DELETE /v0/${readOnly.id}/Apartments/${rec.id}`,
      "GET /v0/meta/whoami",
    ]);
    const list = await trpc(stack, "instances.list", undefined, { cookie: a.user.cookie });
    expect(data<{ status: string }[]>(list)[0]?.status).toBe("active");
  });

  test("429 RATE_LIMIT_REACHED → a rate-limited tool error asking to wait Airtable's 30 seconds", async () => {
    const a = await airtabler("rae");
    fake.answerNext(AIRTABLE_ERRORS.rateLimited);
    const r = await callTool(a.client, "list_bases");
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/rate limiting/i);
    expect(r.text).toContain("30 seconds");
    expect(r.meta?.retryAfterSeconds).toBe(30);
  });

  test("a token revoked upstream: 401 AUTHENTICATION_REQUIRED → tool error telling the user to reconnect", async () => {
    const a = await airtabler("vic");
    const args = { baseId: projectBase(a).id, tableIdOrName: "Tasks", recordId: taskRecord(a).id };
    expect((await callTool(a.client, "list_comments", args)).isError).toBe(false);
    fake.removeKey(a.token);
    const r = await callTool(a.client, "get_record", args);
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/reconnect/i);
    expect(r.text).not.toContain(a.token);
    const list = await trpc(stack, "instances.list", undefined, { cookie: a.user.cookie });
    expect(data<{ status: string }[]>(list)[0]?.status).toBe("needs_reauth");
    expect(a.seen().map((q) => `${q.method} ${q.path}`)).toEqual([
      `GET /v0/${args.baseId}/Tasks/${args.recordId}/comments`,
      `GET /v0/${args.baseId}/Tasks/${args.recordId}`,
      "GET /v0/meta/whoami",
    ]);
  });
});
