// The Linear service end to end: users connect their own personal API keys (validated with the `viewer`
// query), and a real MCP client calls every tool through its instance URL against a fake Linear GraphQL
// API that parses each operation and answers from the key's own workspace.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { data, trpc } from "../client.ts";
import {
  type FakeLinear,
  type FakeLinearWorkspace,
  graphqlOf,
  ratelimitedError,
  startLinearFake,
} from "../fakes/linear.ts";
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

type McpClient = Awaited<ReturnType<typeof userWithInstance>>["client"];

let fake: FakeLinear;
let stack: Stack;

beforeAll(async () => {
  fake = await startLinearFake();
  stack = await startServiceStack("linear", fake.url);
});
afterAll(async () => {
  await stack.stop();
  fake.stop();
});

/** A fake personal API key (never a real one): lin_api_ and 40 random characters. */
const newKey = () => `lin_api_fake${crypto.randomUUID().replaceAll("-", "")}`.slice(0, 48);

interface LinearUser {
  key: string;
  ws: FakeLinearWorkspace;
  user: TestUser;
  client: McpClient;
}

let counter = 0;
/** A signed-up user whose own key (and Linear workspace) is connected, with an MCP client on the instance. */
async function linearUser(name = "Ada Lovelace"): Promise<LinearUser> {
  counter += 1;
  const key = newKey();
  const ws = fake.addKey(key, { name, email: `user${counter}@example.com`, urlKey: `ws${counter}` });
  const { user, client } = await userWithInstance(stack, "linear", key);
  return { key, ws, user, client };
}

/** The requests the fake received from now on. */
function since(): () => RecordedUpstreamRequest[] {
  const mark = fake.requests.length;
  return () => fake.requests.slice(mark);
}

/** The one GraphQL request a tool call made, checked to be Linear's: POST /graphql with the bare key. */
function onlyRequest(requests: RecordedUpstreamRequest[], key: string) {
  expect(requests).toHaveLength(1);
  const req = requests[0] as RecordedUpstreamRequest;
  expect(req.method).toBe("POST");
  expect(req.path).toBe("/graphql");
  expect(req.query).toEqual({});
  expect(req.headers.authorization).toBe(key);
  expect(req.headers["content-type"]).toStartWith("application/json");
  return graphqlOf(req);
}

const team = (ws: FakeLinearWorkspace, key: string) => {
  const found = ws.teams.find((t) => t.key === key);
  if (!found) throw new Error(key);
  return found;
};
const state = (ws: FakeLinearWorkspace, teamKey: string, name: string) => {
  const found = ws.states.find((s) => s.teamId === team(ws, teamKey).id && s.name === name);
  if (!found) throw new Error(name);
  return found;
};
const issueByIdentifier = (ws: FakeLinearWorkspace, identifier: string) => {
  const [key, n] = identifier.split("-");
  const found = ws.issues.find((i) => i.teamId === team(ws, key ?? "").id && i.number === Number(n));
  if (!found) throw new Error(identifier);
  return found;
};

type IssueRow = { id: string; identifier: string; title: string; state: { name: string; type: string } };
const issueNodes = (json: unknown) => (json as { data: { issues: { nodes: IssueRow[] } } }).data.issues.nodes;

describe("connecting", () => {
  test("a wrong key is refused upstream (INVALID_API_KEY) and nothing is stored", async () => {
    const user = await newUser(stack);
    const requests = since();
    const wrong = newKey();
    const res = await connectRaw(stack, user, "linear", wrong);
    expect(res.status).toBe(400);
    expect(res.body.error?.data.appCode).toBe("INVALID_API_KEY");
    // The key was checked with Linear's own "who am I" query, sent bare in Authorization.
    const [check] = requests();
    expect(check?.method).toBe("POST");
    expect(check?.path).toBe("/graphql");
    expect(check?.headers.authorization).toBe(wrong);
    expect(check?.body).toEqual({ query: "{ viewer { id name email } }" });
    const listed = await trpc(stack, "instances.list", undefined, { cookie: user.cookie });
    expect(data<unknown[]>(listed)).toEqual([]);
  });

  test("a good key connects and the instance shows whose Linear account it is", async () => {
    const { user, ws } = await linearUser("Katherine Johnson");
    const listed = data<{ serviceType: string; account: unknown }[]>(
      await trpc(stack, "instances.list", undefined, { cookie: user.cookie }),
    );
    expect(listed).toHaveLength(1);
    expect(listed[0]?.serviceType).toBe("linear");
    expect(listed[0]?.account).toEqual({
      id: ws.viewer.id,
      name: "Katherine Johnson",
      email: ws.viewer.email,
    });
  });

  test("the instance lists the ten Linear tools with truthful hints", async () => {
    const { client } = await linearUser();
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      "add_comment",
      "create_issue",
      "get_issue",
      "list_issues",
      "list_projects",
      "list_teams",
      "list_users",
      "list_workflow_states",
      "search_issues",
      "update_issue",
    ]);
    const hints = Object.fromEntries(tools.map((t) => [t.name, t.annotations]));
    expect(hints.list_issues).toMatchObject({
      readOnlyHint: true,
      destructiveHint: false,
      idempotentHint: true,
    });
    expect(hints.create_issue).toMatchObject({
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: false,
    });
    expect(hints.update_issue).toMatchObject({
      readOnlyHint: false,
      destructiveHint: true,
      idempotentHint: true,
    });
    expect(hints.add_comment).toMatchObject({
      readOnlyHint: false,
      idempotentHint: false,
      openWorldHint: true,
    });
    // Paginated tools take a cursor; the others do not.
    const props = (name: string) =>
      Object.keys(tools.find((t) => t.name === name)?.inputSchema.properties ?? {});
    expect(props("list_issues")).toContain("cursor");
    expect(props("get_issue")).not.toContain("cursor");
  });
});

describe("reading issues", () => {
  let u: LinearUser;
  beforeAll(async () => {
    u = await linearUser();
  });

  test("list_issues sends the ListIssues query and returns the nodes without the GraphQL paging noise", async () => {
    const requests = since();
    const res = await callTool(u.client, "list_issues");
    expect(res.isError).toBe(false);
    const gql = onlyRequest(requests(), u.key);
    expect(gql.operationName).toBe("ListIssues");
    expect(gql.query).toContain("issues(filter: $filter, first: $first, after: $after");
    expect(gql.variables).toEqual({ first: 25 });
    const nodes = issueNodes(res.json);
    expect(nodes).toHaveLength(9);
    expect(nodes.map((n) => n.identifier).sort()).toEqual(
      ["DES-1", "DES-2", "ENG-1", "ENG-2", "ENG-3", "ENG-4", "ENG-5", "ENG-6", "ENG-7"].sort(),
    );
    const login = nodes.find((n) => n.identifier === "ENG-1") as unknown as Record<string, unknown>;
    expect(login).toMatchObject({
      title: "Login fails on Safari",
      priority: 1,
      priorityLabel: "Urgent",
      state: { name: "Todo", type: "unstarted" },
      assignee: { id: u.ws.viewer.id, name: "Ada Lovelace" },
      team: { key: "ENG", name: "Engineering" },
      project: { name: "Mobile app" },
      labels: { nodes: [{ name: "Bug" }] },
      url: `https://linear.app/${u.ws.urlKey}/issue/ENG-1/login-fails-on-safari`,
    });
    expect(res.json).not.toHaveProperty("data.issues.pageInfo");
    expect(res.json).not.toHaveProperty("nextCursor");
  });

  test("list_issues builds Linear's IssueFilter from the filters given", async () => {
    const requests = since();
    const mine = await callTool(u.client, "list_issues", {
      team_key: "eng",
      assigned_to_me: true,
      state_type: "unstarted",
    });
    expect(onlyRequest(requests(), u.key).variables).toEqual({
      first: 25,
      filter: {
        team: { key: { eqIgnoreCase: "eng" } },
        assignee: { isMe: { eq: true } },
        state: { type: { eq: "unstarted" } },
      },
    });
    expect(issueNodes(mine.json).map((n) => n.identifier)).toEqual(["ENG-1"]);

    const more = since();
    const eng = team(u.ws, "ENG");
    const mobile = u.ws.projects.find((p) => p.name === "Mobile app");
    const res = await callTool(u.client, "list_issues", {
      team_id: eng.id,
      project_id: mobile?.id,
      state_name: "in progress",
      priority: 3,
      order_by: "updatedAt",
      include_archived: true,
      limit: 10,
    });
    expect(onlyRequest(more(), u.key).variables).toEqual({
      first: 10,
      orderBy: "updatedAt",
      includeArchived: true,
      filter: {
        team: { id: { eq: eng.id } },
        project: { id: { eq: mobile?.id } },
        state: { name: { eqIgnoreCase: "in progress" } },
        priority: { eq: 3 },
      },
    });
    expect(issueNodes(res.json).map((n) => [n.identifier, n.title])).toEqual([["ENG-2", "Add dark mode"]]);
  });

  test("list_issues follows nextCursor (Linear's endCursor sent back as variables.after) to the end", async () => {
    const seen: string[] = [];
    const afters: unknown[] = [];
    let cursor: string | undefined;
    for (let page = 1; page <= 10; page++) {
      const requests = since();
      const res = await callTool(u.client, "list_issues", cursor ? { limit: 4, cursor } : { limit: 4 });
      expect(res.isError).toBe(false);
      const gql = onlyRequest(requests(), u.key);
      afters.push(gql.variables.after);
      const nodes = issueNodes(res.json);
      seen.push(...nodes.map((n) => n.identifier));
      cursor = (res.json as { nextCursor?: string }).nextCursor;
      if (page < 3) {
        expect(nodes).toHaveLength(4);
        expect(cursor).toBeString();
        // The cursor is opaque to the model: not Linear's raw endCursor.
        expect(cursor).not.toBe(nodes.at(-1)?.id);
      }
      if (!cursor) break;
    }
    expect(seen).toHaveLength(9);
    expect(new Set(seen).size).toBe(9);
    expect(afters[0]).toBeUndefined();
    // Page two starts after the last issue of page one (Linear's endCursor is that node's id).
    expect(afters).toHaveLength(3);
    expect(typeof afters[1]).toBe("string");
    expect(cursor).toBeUndefined();
  });

  test("search_issues searches by term, team and comments, and pages", async () => {
    const requests = since();
    const res = await callTool(u.client, "search_issues", { query: "safari" });
    const gql = onlyRequest(requests(), u.key);
    expect(gql.operationName).toBe("SearchIssues");
    expect(gql.variables).toEqual({ first: 25, term: "safari" });
    const result = res.json as { data: { searchIssues: { totalCount: number; nodes: IssueRow[] } } };
    expect(result.data.searchIssues.totalCount).toBe(1);
    expect(result.data.searchIssues.nodes.map((n) => n.identifier)).toEqual(["ENG-1"]);
    expect(res.json).not.toHaveProperty("data.searchIssues.pageInfo");

    const inComments = since();
    const des = team(u.ws, "DES");
    const none = await callTool(u.client, "search_issues", {
      query: "reproduced",
      team_id: des.id,
      include_comments: true,
    });
    expect(onlyRequest(inComments(), u.key).variables).toEqual({
      first: 25,
      term: "reproduced",
      teamId: des.id,
      includeComments: true,
    });
    expect(none.json).toMatchObject({ data: { searchIssues: { totalCount: 0, nodes: [] } } });
    const hit = await callTool(u.client, "search_issues", { query: "reproduced", include_comments: true });
    expect(hit.json).toMatchObject({
      data: { searchIssues: { totalCount: 1, nodes: [{ identifier: "ENG-1" }] } },
    });

    // Every seeded description says "Steps and context for ...".
    const first = await callTool(u.client, "search_issues", { query: "steps", limit: 1 });
    const page1 = first.json as { nextCursor?: string; data: { searchIssues: { nodes: IssueRow[] } } };
    expect(page1.data.searchIssues.nodes).toHaveLength(1);
    expect(page1.nextCursor).toBeString();
    const next = since();
    const second = await callTool(u.client, "search_issues", {
      query: "steps",
      limit: 1,
      cursor: page1.nextCursor as string,
    });
    expect(onlyRequest(next(), u.key).variables.after).toBe(page1.data.searchIssues.nodes[0]?.id);
    const page2 = second.json as { data: { searchIssues: { nodes: IssueRow[] } } };
    expect(page2.data.searchIssues.nodes[0]?.identifier).not.toBe(
      page1.data.searchIssues.nodes[0]?.identifier,
    );
  });

  test("get_issue takes an identifier like ENG-1 or a UUID and returns the issue with its comments", async () => {
    const requests = since();
    const res = await callTool(u.client, "get_issue", { id: "ENG-1" });
    expect(res.isError).toBe(false);
    const gql = onlyRequest(requests(), u.key);
    expect(gql.operationName).toBe("GetIssue");
    expect(gql.variables).toEqual({ id: "ENG-1" });
    const issue = (res.json as { data: { issue: Record<string, unknown> } }).data.issue;
    const stored = issueByIdentifier(u.ws, "ENG-1");
    expect(issue).toMatchObject({
      id: stored.id,
      identifier: "ENG-1",
      title: "Login fails on Safari",
      description: stored.description as string,
      dueDate: "2026-02-01",
      state: { name: "Todo", type: "unstarted" },
      creator: { name: "Ada Lovelace" },
      parent: null,
      comments: {
        nodes: [
          { body: "Reproduced on Safari 18.", user: { name: "Grace Hopper" } },
          { body: "Looking into it.", user: { name: "Ada Lovelace" } },
        ],
      },
    });

    const byUuid = since();
    const again = await callTool(u.client, "get_issue", { id: stored.id });
    expect(onlyRequest(byUuid(), u.key).variables).toEqual({ id: stored.id });
    expect(again.json).toMatchObject({ data: { issue: { identifier: "ENG-1" } } });
  });

  test("an issue that does not exist is a tool error carrying Linear's own message", async () => {
    const requests = since();
    const res = await callTool(u.client, "get_issue", { id: "ENG-999" });
    expect(res.isError).toBe(true);
    expect(res.text).toContain("Entity not found: Issue");
    expect(res.text).toContain("INPUT_ERROR");
    expect(onlyRequest(requests(), u.key).variables).toEqual({ id: "ENG-999" });
  });
});

describe("looking things up", () => {
  let u: LinearUser;
  beforeAll(async () => {
    u = await linearUser();
  });

  test("list_teams returns ids and keys, one page at a time", async () => {
    const requests = since();
    const all = await callTool(u.client, "list_teams");
    const gql = onlyRequest(requests(), u.key);
    expect(gql.operationName).toBe("ListTeams");
    expect(gql.variables).toEqual({ first: 50 });
    expect(all.json).toEqual({
      data: {
        teams: {
          nodes: u.ws.teams.map((t) => ({
            id: t.id,
            key: t.key,
            name: t.name,
            description: t.description,
            private: false,
            createdAt: t.createdAt,
          })),
        },
      },
    });

    const first = await callTool(u.client, "list_teams", { limit: 1 });
    const page1 = first.json as { nextCursor?: string; data: { teams: { nodes: { key: string }[] } } };
    expect(page1.data.teams.nodes.map((t) => t.key)).toEqual(["ENG"]);
    const next = since();
    const second = await callTool(u.client, "list_teams", { limit: 1, cursor: page1.nextCursor as string });
    expect(onlyRequest(next(), u.key).variables).toEqual({ first: 1, after: team(u.ws, "ENG").id });
    expect(second.json).toEqual({ data: { teams: { nodes: [expect.objectContaining({ key: "DES" })] } } });
  });

  test("list_workflow_states filters by team key and state type", async () => {
    const requests = since();
    const res = await callTool(u.client, "list_workflow_states", { team_key: "des", type: "completed" });
    const gql = onlyRequest(requests(), u.key);
    expect(gql.operationName).toBe("ListWorkflowStates");
    expect(gql.variables).toEqual({
      first: 50,
      filter: { team: { key: { eqIgnoreCase: "des" } }, type: { eq: "completed" } },
    });
    const done = state(u.ws, "DES", "Done");
    expect(res.json).toEqual({
      data: {
        workflowStates: {
          nodes: [
            {
              id: done.id,
              name: "Done",
              type: "completed",
              color: done.color,
              position: 3,
              team: { id: team(u.ws, "DES").id, key: "DES", name: "Design" },
            },
          ],
        },
      },
    });
    const byId = since();
    const eng = await callTool(u.client, "list_workflow_states", { team_id: team(u.ws, "ENG").id });
    expect(onlyRequest(byId(), u.key).variables.filter).toEqual({
      team: { id: { eq: team(u.ws, "ENG").id } },
    });
    const names = (eng.json as { data: { workflowStates: { nodes: { name: string }[] } } }).data
      .workflowStates.nodes;
    expect(names.map((s) => s.name)).toEqual(["Backlog", "Todo", "In Progress", "Done", "Canceled"]);
  });

  test("list_projects filters by team, name and status, and can include archived ones", async () => {
    const names = (json: unknown) =>
      (json as { data: { projects: { nodes: { name: string }[] } } }).data.projects.nodes
        .map((p) => p.name)
        .sort();
    const requests = since();
    const eng = await callTool(u.client, "list_projects", { team_id: team(u.ws, "ENG").id });
    const gql = onlyRequest(requests(), u.key);
    expect(gql.operationName).toBe("ListProjects");
    expect(gql.variables).toEqual({
      first: 50,
      filter: { accessibleTeams: { some: { id: { eq: team(u.ws, "ENG").id } } } },
    });
    expect(names(eng.json)).toEqual(["Mobile app", "Website redesign"]);
    expect(eng.json).toMatchObject({
      data: {
        projects: {
          nodes: expect.arrayContaining([
            expect.objectContaining({
              name: "Mobile app",
              status: expect.objectContaining({ name: "In Progress", type: "started" }),
              lead: { id: u.ws.viewer.id, name: "Ada Lovelace" },
              progress: 0.4,
              teams: { nodes: [expect.objectContaining({ key: "ENG" })] },
            }),
          ]),
        },
      },
    });

    const filtered = since();
    const web = await callTool(u.client, "list_projects", { name_contains: "WEB", status_type: "planned" });
    expect(onlyRequest(filtered(), u.key).variables).toEqual({
      first: 50,
      filter: { name: { containsIgnoreCase: "WEB" }, status: { type: { eq: "planned" } } },
    });
    expect(names(web.json)).toEqual(["Website redesign"]);
    const archived = await callTool(u.client, "list_projects", { include_archived: true });
    expect(names(archived.json)).toEqual(["Mobile app", "Old intranet", "Website redesign"]);
  });

  test("list_users marks the connected user and filters by name or email", async () => {
    const requests = since();
    const res = await callTool(u.client, "list_users");
    const gql = onlyRequest(requests(), u.key);
    expect(gql.operationName).toBe("ListUsers");
    expect(gql.variables).toEqual({ first: 50 });
    const users = (res.json as { data: { users: { nodes: { name: string; isMe: boolean }[] } } }).data.users
      .nodes;
    expect(users.map((x) => [x.name, x.isMe])).toEqual([
      ["Ada Lovelace", true],
      ["Grace Hopper", false],
    ]);

    const filtered = since();
    const email = `GRACE@${u.ws.urlKey}.example`;
    const grace = await callTool(u.client, "list_users", { name_contains: "grace", email });
    expect(onlyRequest(filtered(), u.key).variables).toEqual({
      first: 50,
      filter: { name: { containsIgnoreCase: "grace" }, email: { eqIgnoreCase: email } },
    });
    expect(grace.json).toEqual({
      data: {
        users: {
          nodes: [
            {
              id: u.ws.users[1]?.id,
              name: "Grace Hopper",
              displayName: "grace",
              email: `grace@${u.ws.urlKey}.example`,
              active: true,
              admin: false,
              isMe: false,
            },
          ],
        },
      },
    });
    const nobody = await callTool(u.client, "list_users", { email: "nobody@example.com" });
    expect(nobody.json).toEqual({ data: { users: { nodes: [] } } });
    const everyone = await callTool(u.client, "list_users", { include_disabled: true });
    expect((everyone.json as { data: { users: { nodes: unknown[] } } }).data.users.nodes).toHaveLength(3);
  });
});

describe("writing", () => {
  let u: LinearUser;
  beforeAll(async () => {
    u = await linearUser();
  });

  test("create_issue sends IssueCreateInput and the issue exists with the next identifier", async () => {
    const eng = team(u.ws, "ENG");
    const todo = state(u.ws, "ENG", "Todo");
    const bug = u.ws.labels.find((l) => l.name === "Bug");
    const parent = issueByIdentifier(u.ws, "ENG-1");
    const requests = since();
    const res = await callTool(u.client, "create_issue", {
      team_id: eng.id,
      title: "Keyboard shortcuts",
      description: "Add **cmd+k**.",
      priority: 2,
      assignee_id: u.ws.viewer.id,
      state_id: todo.id,
      label_ids: [bug?.id as string],
      due_date: "2026-03-01",
      estimate: 3,
      parent_id: parent.id,
    });
    expect(res.isError).toBe(false);
    const gql = onlyRequest(requests(), u.key);
    expect(gql.operationName).toBe("CreateIssue");
    expect(gql.query).toContain("issueCreate(input: $input)");
    expect(gql.variables).toEqual({
      input: {
        teamId: eng.id,
        title: "Keyboard shortcuts",
        description: "Add **cmd+k**.",
        priority: 2,
        assigneeId: u.ws.viewer.id,
        stateId: todo.id,
        labelIds: [bug?.id],
        dueDate: "2026-03-01",
        estimate: 3,
        parentId: parent.id,
      },
    });
    expect(res.json).toMatchObject({
      data: {
        issueCreate: {
          success: true,
          issue: {
            identifier: "ENG-8",
            title: "Keyboard shortcuts",
            priorityLabel: "High",
            state: { id: todo.id, name: "Todo" },
            assignee: { id: u.ws.viewer.id },
            parent: { identifier: "ENG-1" },
            labels: { nodes: [{ name: "Bug" }] },
            url: `https://linear.app/${u.ws.urlKey}/issue/ENG-8/keyboard-shortcuts`,
          },
        },
      },
    });
    expect(issueByIdentifier(u.ws, "ENG-8").title).toBe("Keyboard shortcuts");

    // Only the required fields: the team's default state (Backlog) and no priority.
    const minimal = since();
    const small = await callTool(u.client, "create_issue", { team_id: team(u.ws, "DES").id, title: "Logo" });
    expect(onlyRequest(minimal(), u.key).variables).toEqual({
      input: { teamId: team(u.ws, "DES").id, title: "Logo" },
    });
    expect(small.json).toMatchObject({
      data: { issueCreate: { issue: { identifier: "DES-3", priority: 0, state: { name: "Backlog" } } } },
    });
  });

  test("update_issue changes only the fields given", async () => {
    const done = state(u.ws, "ENG", "Done");
    const requests = since();
    const res = await callTool(u.client, "update_issue", {
      id: "eng-2",
      state_id: done.id,
      priority: 1,
      title: "Add dark mode everywhere",
    });
    expect(res.isError).toBe(false);
    const gql = onlyRequest(requests(), u.key);
    expect(gql.operationName).toBe("UpdateIssue");
    expect(gql.query).toContain("issueUpdate(id: $id, input: $input)");
    expect(gql.variables).toEqual({
      id: "eng-2",
      input: { stateId: done.id, priority: 1, title: "Add dark mode everywhere" },
    });
    expect(res.json).toMatchObject({
      data: {
        issueUpdate: {
          success: true,
          issue: {
            identifier: "ENG-2",
            title: "Add dark mode everywhere",
            priority: 1,
            state: { name: "Done" },
          },
        },
      },
    });
    const stored = issueByIdentifier(u.ws, "ENG-2");
    expect(stored.completedAt).toBeString();
    expect(stored.description).toStartWith("Add dark mode.");
    expect(stored.assigneeId).toBe(u.ws.viewer.id);
  });

  test("a write Linear refuses is a tool error with its message, and nothing changes", async () => {
    const desState = state(u.ws, "DES", "Done");
    const before = { ...issueByIdentifier(u.ws, "ENG-3") };
    const res = await callTool(u.client, "update_issue", { id: "ENG-3", state_id: desState.id });
    expect(res.isError).toBe(true);
    expect(res.text).toContain("Workflow state does not belong to the issue's team");
    expect(issueByIdentifier(u.ws, "ENG-3")).toEqual(before);

    const missing = await callTool(u.client, "create_issue", {
      team_id: crypto.randomUUID(),
      title: "Nowhere",
    });
    expect(missing.isError).toBe(true);
    expect(missing.text).toContain("Entity not found: Team");
  });

  test("add_comment posts Markdown as the connected user, and replies in a thread", async () => {
    const requests = since();
    const res = await callTool(u.client, "add_comment", { issue_id: "ENG-3", body: "Fixed in **#42**." });
    expect(res.isError).toBe(false);
    const gql = onlyRequest(requests(), u.key);
    expect(gql.operationName).toBe("AddComment");
    expect(gql.query).toContain("commentCreate(input: $input)");
    expect(gql.variables).toEqual({ input: { issueId: "ENG-3", body: "Fixed in **#42**." } });
    const comment = (
      res.json as { data: { commentCreate: { success: boolean; comment: Record<string, unknown> } } }
    ).data.commentCreate;
    expect(comment.success).toBe(true);
    expect(comment.comment).toMatchObject({
      body: "Fixed in **#42**.",
      user: { id: u.ws.viewer.id, name: "Ada Lovelace" },
      issue: { identifier: "ENG-3" },
      parent: null,
    });
    expect(comment.comment.url).toStartWith(`https://linear.app/${u.ws.urlKey}/issue/ENG-3/`);

    const reply = since();
    const threaded = await callTool(u.client, "add_comment", {
      issue_id: issueByIdentifier(u.ws, "ENG-3").id,
      body: "Thanks!",
      parent_id: comment.comment.id as string,
    });
    expect(onlyRequest(reply(), u.key).variables).toEqual({
      input: { issueId: issueByIdentifier(u.ws, "ENG-3").id, body: "Thanks!", parentId: comment.comment.id },
    });
    expect(threaded.json).toMatchObject({
      data: { commentCreate: { comment: { parent: { id: comment.comment.id } } } },
    });
    const stored = u.ws.comments.filter((c) => c.issueId === issueByIdentifier(u.ws, "ENG-3").id);
    expect(stored.map((c) => c.body)).toEqual(["Fixed in **#42**.", "Thanks!"]);
  });
});

describe("isolation and refusals", () => {
  test("two users' calls each carry only their own key and see only their own workspace", async () => {
    const [alice, bob] = await Promise.all([linearUser("Alice Adams"), linearUser("Bob Brown")]);
    const aliceCalls = since();
    const a1 = await callTool(alice.client, "list_teams");
    const a2 = await callTool(alice.client, "get_issue", { id: "ENG-1" });
    const fromAlice = aliceCalls();
    const bobCalls = since();
    const b1 = await callTool(bob.client, "list_teams");
    const b2 = await callTool(bob.client, "add_comment", { issue_id: "ENG-1", body: "Bob was here" });
    const fromBob = bobCalls();

    expect(fromAlice).toHaveLength(2);
    expect(fromBob).toHaveLength(2);
    expectOnlyCredential(fromAlice, "authorization", alice.key);
    expectOnlyCredential(fromBob, "authorization", bob.key);
    const teamIds = (json: unknown) =>
      (json as { data: { teams: { nodes: { id: string }[] } } }).data.teams.nodes;
    expect(teamIds(a1.json).map((t) => t.id)).toEqual(alice.ws.teams.map((t) => t.id));
    expect(teamIds(b1.json).map((t) => t.id)).toEqual(bob.ws.teams.map((t) => t.id));
    expect(a2.json).toMatchObject({ data: { issue: { id: issueByIdentifier(alice.ws, "ENG-1").id } } });
    expect(b2.json).toMatchObject({ data: { commentCreate: { comment: { user: { name: "Bob Brown" } } } } });
    // Bob's comment landed in Bob's workspace only.
    expect(alice.ws.comments.some((c) => c.body === "Bob was here")).toBe(false);
    expect(bob.ws.comments.some((c) => c.body === "Bob was here")).toBe(true);
  });

  test("bad input is refused as invalid params and never reaches Linear", async () => {
    const u = await linearUser();
    const requests = since();
    const refused: [string, Record<string, unknown>][] = [
      ["get_issue", { id: "../ENG-1" }],
      ["get_issue", { id: "ENG-1%2F" }],
      ["get_issue", { id: "ENG-1/comments" }],
      ["get_issue", {}],
      ["update_issue", { title: "no id" }],
      ["update_issue", { id: "ENG-1", priority: 7 }],
      ["create_issue", { title: "no team" }],
      ["create_issue", { team_id: "not-a-uuid", title: "x" }],
      ["create_issue", { team_id: team(u.ws, "ENG").id, title: "" }],
      ["add_comment", { issue_id: "ENG-1" }],
      ["list_issues", { state_type: "doing" }],
      ["list_issues", { limit: 1000 }],
      ["list_issues", { team_key: "ENG", unknown: true }],
      ["list_issues", { cursor: "not-a-cursor-we-returned" }],
      ["search_issues", { query: "x".repeat(300) }],
    ];
    for (const [tool, args] of refused) {
      const message = await expectInvalidParams(u.client, tool, args);
      expect(message.length).toBeGreaterThan(0);
    }
    expect(requests()).toEqual([]);
  });

  test("Linear's rate limit (RATELIMITED in a 400) is a rate-limited tool error with Linear's wait, and the key waits it out", async () => {
    const u = await linearUser();
    fake.answerNext(() => ratelimitedError(45_000));
    const res = await callTool(u.client, "list_teams");
    expect(res.isError).toBe(true);
    expect(res.text).toContain("rate limiting");
    // The wait of the spent budget's reset (epoch milliseconds), not a fixed guess.
    expect(res.meta?.retryAfterSeconds).toBeGreaterThanOrEqual(40);
    expect(res.meta?.retryAfterSeconds).toBeLessThanOrEqual(46);
    // The key is paused: the next call is answered here, without spending more of Linear's budget.
    const requests = since();
    const next = await callTool(u.client, "list_teams");
    expect(next.isError).toBe(true);
    expect(next.text).toContain("rate limiting");
    expect(requests()).toEqual([]);
  });

  test("a key revoked in Linear turns into a tool error telling the user to reconnect", async () => {
    const u = await linearUser();
    expect((await callTool(u.client, "list_teams")).isError).toBe(false);
    fake.removeKey(u.key);
    const requests = since();
    const res = await callTool(u.client, "list_issues", { assigned_to_me: true });
    expect(res.isError).toBe(true);
    expect(res.text).toContain("Reconnect Linear");
    // The tool's request was refused, then the key itself was re-checked with the viewer query.
    const sent = requests();
    expect(sent.map((r) => graphqlOf(r).operationName ?? graphqlOf(r).query)).toEqual([
      "ListIssues",
      "{ viewer { id name email } }",
    ]);
    expectOnlyCredential(sent, "authorization", u.key);
    const listed = data<{ status: string }[]>(
      await trpc(stack, "instances.list", undefined, { cookie: u.user.cookie }),
    );
    expect(listed[0]?.status).not.toBe("active");
  });
});
