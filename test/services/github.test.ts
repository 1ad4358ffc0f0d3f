// The GitHub service end to end: users connect their own (fake) personal access tokens, and a real MCP
// client calls every GitHub tool through their instance URLs against a fake shaped like the GitHub REST API.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { trpc } from "../client.ts";
import { type GitHubFake, startGitHubFake } from "../fakes/github.ts";
import type { RecordedUpstreamRequest } from "../fakes/upstream.ts";
import type { Stack } from "../harness.ts";
import {
  callTool,
  connect,
  connectRaw,
  expectInvalidParams,
  expectOnlyCredential,
  newUser,
  startServiceStack,
  userWithInstance,
} from "./kit.ts";

let fake: GitHubFake;
let stack: Stack;

beforeAll(async () => {
  fake = await startGitHubFake();
  stack = await startServiceStack("github", fake.url);
});
afterAll(async () => {
  await stack?.stop();
  fake?.stop();
});

const TOOLS = [
  "add_issue_comment",
  "create_issue",
  "get_issue",
  "get_me",
  "get_pull_request",
  "get_repository",
  "list_issue_comments",
  "list_issues",
  "list_my_repositories",
  "list_pull_requests",
  "search_issues",
  "search_repositories",
  "update_issue",
];

/** A fresh fake token (clearly not a real one) for a fresh GitHub account. */
function freshKey(opts: { readOnly?: boolean } = {}): { key: string; login: string } {
  const id = crypto.randomUUID().replaceAll("-", "");
  const login = `tester-${id.slice(0, 12)}`;
  const key = `test_gh_token_${id}`;
  fake.addKey(key, login, opts);
  return { key, login };
}

/** A signed-up user with GitHub connected through a fresh key. */
async function setup(opts: { readOnly?: boolean } = {}) {
  const { key, login } = freshKey(opts);
  const { user, instance, client } = await userWithInstance(stack, "github", key);
  return { key, login, user, instance, client, repo: { owner: login, repo: "hello-world" } };
}

/** The requests the fake got with this key since `mark`. */
const sent = (key: string, mark = 0): RecordedUpstreamRequest[] =>
  fake.requests.slice(mark).filter((r) => r.headers.authorization === `Bearer ${key}`);

/** The one request the fake got with this key since `mark`. */
function onlyRequest(key: string, mark: number): RecordedUpstreamRequest {
  const reqs = sent(key, mark);
  expect(reqs).toHaveLength(1);
  const [req] = reqs;
  if (!req) throw new Error("no request");
  return req;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => v as Obj;
const items = (v: unknown): Obj[] => obj(v).items as Obj[];

/** A cursor as the executor encodes them, for a forged one. */
const forgedCursor = (url: string) => `c1.${Buffer.from(JSON.stringify(url)).toString("base64url")}`;

describe("connect", () => {
  test("a wrong token is refused with INVALID_API_KEY and nothing is stored", async () => {
    const user = await newUser(stack);
    const mark = fake.requests.length;
    const res = await connectRaw(stack, user, "github", "test_gh_token_not_accepted");
    expect(res.status).toBe(400);
    expect(res.body.error?.data.appCode).toBe("INVALID_API_KEY");
    const list = await trpc(stack, "instances.list", undefined, { cookie: user.cookie });
    expect(list.body.result?.data).toEqual([]);
    // The key was checked upstream with GitHub's "who am I" request.
    const [check] = fake.requests.slice(mark);
    expect(check).toMatchObject({ method: "GET", path: "/user" });
    expect(check?.headers.authorization).toBe("Bearer test_gh_token_not_accepted");
  });

  test("a good token is validated with GET /user and the documented headers", async () => {
    const { key } = freshKey();
    const user = await newUser(stack);
    const mark = fake.requests.length;
    const instance = await connect(stack, user, "github", key);
    expect(instance.instanceUrl).toMatch(/\/mcp_gh_[A-Za-z0-9_-]+\/mcp$/);
    const check = onlyRequest(key, mark);
    expect(check).toMatchObject({ method: "GET", path: "/user" });
    expect(check.headers["x-github-api-version"]).toBe("2022-11-28");
    expect(check.headers.accept).toBe("application/vnd.github+json");
    expect(check.headers["user-agent"]).toBeTruthy();
    const list = await trpc(stack, "instances.list", undefined, { cookie: user.cookie });
    expect(list.body.result?.data).toEqual([
      expect.objectContaining({ serviceType: "github", status: "active" }),
    ]);
  });
});

describe("tools", () => {
  test("tools/list: every tool, with truthful annotations and a cursor on paginated tools", async () => {
    const { client } = await setup();
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(TOOLS);
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const name of ["get_me", "get_repository", "list_issues", "search_issues", "get_pull_request"]) {
      expect(byName.get(name)?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    }
    expect(byName.get("create_issue")?.annotations).toMatchObject({
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: false,
      openWorldHint: true,
    });
    expect(byName.get("update_issue")?.annotations).toMatchObject({
      readOnlyHint: false,
      destructiveHint: true,
    });
    for (const name of ["list_issues", "list_pull_requests", "search_repositories", "list_issue_comments"]) {
      expect(Object.keys(byName.get(name)?.inputSchema.properties ?? {})).toContain("cursor");
    }
  });

  test("get_me: GET /user, trimmed to the account fields", async () => {
    const { client, key, login } = await setup();
    const mark = fake.requests.length;
    const res = await callTool(client, "get_me");
    expect(res.isError).toBe(false);
    const req = onlyRequest(key, mark);
    expect(req).toMatchObject({ method: "GET", path: "/user", query: {} });
    expect(req.headers["x-github-api-version"]).toBe("2022-11-28");
    expect(res.json).toMatchObject({
      login,
      email: `${login}@users.test`,
      type: "User",
      total_private_repos: 1,
    });
    expect(obj(res.json).node_id).toBeUndefined();
    expect(obj(res.json).plan).toBeUndefined();
  });

  test("search_repositories: q, sort and per_page go to /search/repositories", async () => {
    const { client, key, login } = await setup();
    const mark = fake.requests.length;
    const res = await callTool(client, "search_repositories", {
      q: `hello user:${login}`,
      sort: "stars",
      order: "desc",
      per_page: 5,
    });
    expect(res.isError).toBe(false);
    const req = onlyRequest(key, mark);
    expect(req).toMatchObject({
      method: "GET",
      path: "/search/repositories",
      query: { q: `hello user:${login}`, sort: "stars", order: "desc", per_page: "5" },
    });
    expect(res.json).toMatchObject({ total_count: 1, incomplete_results: false });
    const [repo] = items(res.json);
    expect(repo).toMatchObject({
      full_name: `${login}/hello-world`,
      html_url: `https://github.com/${login}/hello-world`,
      stargazers_count: 42,
      owner: { login },
      license: { spdx_id: "MIT" },
    });
    expect(repo?.node_id).toBeUndefined();
    expect(obj(repo?.owner).avatar_url).toBeUndefined();
    expect(obj(res.json).nextCursor).toBeUndefined();
  });

  test("search_repositories pages through its Link header", async () => {
    const { client, key, login } = await setup();
    const first = await callTool(client, "search_repositories", { q: `user:${login}`, per_page: 1 });
    expect(obj(first.json).total_count).toBe(2);
    expect(items(first.json).map((r) => r.full_name)).toEqual([`${login}/hello-world`]);
    const mark = fake.requests.length;
    const second = await callTool(client, "search_repositories", {
      q: `user:${login}`,
      per_page: 1,
      cursor: obj(first.json).nextCursor,
    });
    expect(onlyRequest(key, mark)).toMatchObject({
      path: "/search/repositories",
      query: { q: `user:${login}`, per_page: "1", page: "2" },
    });
    expect(items(second.json).map((r) => r.full_name)).toEqual([`${login}/secret-plans`]);
    expect(obj(second.json).nextCursor).toBeUndefined();
  });

  test("list_my_repositories: GET /user/repos with its filters", async () => {
    const { client, key, login } = await setup();
    const mark = fake.requests.length;
    const res = await callTool(client, "list_my_repositories", { affiliation: "owner", sort: "full_name" });
    const req = onlyRequest(key, mark);
    expect(req).toMatchObject({
      method: "GET",
      path: "/user/repos",
      query: { affiliation: "owner", sort: "full_name" },
    });
    expect(items(res.json).map((r) => [r.full_name, r.visibility])).toEqual([
      [`${login}/hello-world`, "public"],
      [`${login}/secret-plans`, "private"],
    ]);
    const all = await callTool(client, "list_my_repositories", {});
    expect(items(all.json).map((r) => r.full_name)).toContain("octo-org/handbook");
  });

  test("get_repository: GET /repos/{owner}/{repo}", async () => {
    const { client, key, login } = await setup();
    const mark = fake.requests.length;
    const res = await callTool(client, "get_repository", { owner: login.toUpperCase(), repo: "Hello-World" });
    expect(res.isError).toBe(false);
    expect(onlyRequest(key, mark)).toMatchObject({
      method: "GET",
      path: `/repos/${login.toUpperCase()}/Hello-World`,
    });
    expect(res.json).toMatchObject({
      full_name: `${login}/hello-world`,
      default_branch: "main",
      open_issues_count: 6,
      subscribers_count: 2,
      permissions: { push: true },
      topics: ["demo", "mcp"],
    });
    expect(obj(res.json).issues_url).toBeUndefined();
  });

  test("list_issues: filters, GitHub's Link pagination to the end, PRs marked", async () => {
    const { client, key, repo } = await setup();
    let mark = fake.requests.length;
    const first = await callTool(client, "list_issues", { ...repo, state: "all", per_page: 3 });
    expect(first.isError).toBe(false);
    expect(onlyRequest(key, mark)).toMatchObject({
      method: "GET",
      path: `/repos/${repo.owner}/hello-world/issues`,
      query: { state: "all", per_page: "3" },
    });
    expect(items(first.json).map((i) => i.number)).toEqual([7, 6, 5]);
    expect(items(first.json)[0]).toMatchObject({
      title: "Dark mode, first pass",
      pull_request: { html_url: `https://github.com/${repo.owner}/hello-world/pull/7` },
      user: { login: repo.owner },
    });
    expect(items(first.json)[0]?.body).toBeUndefined();
    const cursor1 = obj(first.json).nextCursor;
    expect(cursor1).toBeString();

    mark = fake.requests.length;
    const second = await callTool(client, "list_issues", {
      ...repo,
      state: "all",
      per_page: 3,
      cursor: cursor1,
    });
    // GitHub's next link names the repository by id; the cursor follows it as given.
    const page2 = onlyRequest(key, mark);
    expect(page2.path).toMatch(/^\/repositories\/[0-9]+\/issues$/);
    expect(page2.query).toEqual({ state: "all", per_page: "3", page: "2" });
    expect(items(second.json).map((i) => i.number)).toEqual([4, 3, 2]);
    expect(items(second.json)[2]).toMatchObject({ state: "closed", state_reason: "completed" });

    const third = await callTool(client, "list_issues", {
      ...repo,
      state: "all",
      per_page: 3,
      cursor: obj(second.json).nextCursor,
    });
    expect(items(third.json).map((i) => i.number)).toEqual([1]);
    expect(obj(third.json).nextCursor).toBeUndefined();

    mark = fake.requests.length;
    const bugs = await callTool(client, "list_issues", { ...repo, labels: "bug", assignee: "*" });
    expect(onlyRequest(key, mark).query).toEqual({ labels: "bug", assignee: "*" });
    expect(items(bugs.json)).toEqual([
      expect.objectContaining({ number: 1, labels: [{ name: "bug" }], assignees: [{ login: repo.owner }] }),
    ]);
  });

  test("search_issues: GET /search/issues", async () => {
    const { client, key, login } = await setup();
    const mark = fake.requests.length;
    const q = `repo:${login}/hello-world is:issue is:open crash`;
    const res = await callTool(client, "search_issues", { q, sort: "created", order: "asc" });
    expect(onlyRequest(key, mark)).toMatchObject({
      method: "GET",
      path: "/search/issues",
      query: { q, sort: "created", order: "asc" },
    });
    expect(obj(res.json).total_count).toBe(2);
    expect(items(res.json).map((i) => i.number)).toEqual([1, 4]);
    expect(items(res.json)[0]?.repository_url).toEndWith(`/repos/${login}/hello-world`);
  });

  test("get_issue: GET /repos/{owner}/{repo}/issues/{number} with its body", async () => {
    const { client, key, repo } = await setup();
    const mark = fake.requests.length;
    const res = await callTool(client, "get_issue", { ...repo, issue_number: 1 });
    expect(onlyRequest(key, mark)).toMatchObject({
      method: "GET",
      path: `/repos/${repo.owner}/hello-world/issues/1`,
    });
    expect(res.json).toMatchObject({
      number: 1,
      title: "Crash when saving a file",
      body: 'Details of "Crash when saving a file".',
      state: "open",
      comments: 3,
      author_association: "OWNER",
      html_url: `https://github.com/${repo.owner}/hello-world/issues/1`,
    });
    expect(obj(res.json).reactions).toEqual({ total_count: 0 });
    expect(obj(res.json).timeline_url).toBeUndefined();
  });

  test("create_issue: POST with a JSON body; the issue exists afterwards", async () => {
    const { client, key, repo } = await setup();
    const mark = fake.requests.length;
    const res = await callTool(client, "create_issue", {
      ...repo,
      title: "Broken link in docs",
      body: "The link to the guide 404s.",
      labels: ["documentation", "good first issue"],
      assignees: [repo.owner],
    });
    expect(res.isError).toBe(false);
    const req = onlyRequest(key, mark);
    expect(req).toMatchObject({ method: "POST", path: `/repos/${repo.owner}/hello-world/issues` });
    expect(req.headers["content-type"]).toStartWith("application/json");
    expect(req.body).toEqual({
      title: "Broken link in docs",
      body: "The link to the guide 404s.",
      labels: ["documentation", "good first issue"],
      assignees: [repo.owner],
    });
    expect(res.json).toMatchObject({
      number: 8,
      state: "open",
      html_url: `https://github.com/${repo.owner}/hello-world/issues/8`,
      labels: [{ name: "documentation" }, { name: "good first issue" }],
    });
    const got = await callTool(client, "get_issue", { ...repo, issue_number: 8 });
    expect(obj(got.json).title).toBe("Broken link in docs");
  });

  test("update_issue: PATCH only the given fields", async () => {
    const { client, key, repo } = await setup();
    const mark = fake.requests.length;
    const res = await callTool(client, "update_issue", {
      ...repo,
      issue_number: 3,
      state: "closed",
      state_reason: "not_planned",
    });
    const req = onlyRequest(key, mark);
    expect(req).toMatchObject({ method: "PATCH", path: `/repos/${repo.owner}/hello-world/issues/3` });
    expect(req.body).toEqual({ state: "closed", state_reason: "not_planned" });
    expect(res.json).toMatchObject({
      number: 3,
      state: "closed",
      state_reason: "not_planned",
      closed_by: { login: repo.owner },
    });
    const reopened = await callTool(client, "update_issue", {
      ...repo,
      issue_number: 3,
      state: "open",
      labels: [],
    });
    expect(sent(key, mark).at(-1)?.body).toEqual({ state: "open", labels: [] });
    expect(reopened.json).toMatchObject({ state: "open", state_reason: "reopened", labels: [] });
  });

  test("list_issue_comments: pages to the end", async () => {
    const { client, key, repo } = await setup();
    let mark = fake.requests.length;
    const first = await callTool(client, "list_issue_comments", { ...repo, issue_number: 1, per_page: 2 });
    expect(onlyRequest(key, mark)).toMatchObject({
      method: "GET",
      path: `/repos/${repo.owner}/hello-world/issues/1/comments`,
      query: { per_page: "2" },
    });
    expect(items(first.json).map((c) => c.body)).toEqual([
      "I can reproduce this on Linux.",
      "Same on macOS.",
    ]);
    expect(items(first.json)[1]).toMatchObject({ user: { login: repo.owner }, author_association: "OWNER" });
    mark = fake.requests.length;
    const second = await callTool(client, "list_issue_comments", {
      ...repo,
      issue_number: 1,
      per_page: 2,
      cursor: obj(first.json).nextCursor,
    });
    expect(onlyRequest(key, mark).path).toMatch(/^\/repositories\/[0-9]+\/issues\/1\/comments$/);
    expect(items(second.json).map((c) => c.body)).toEqual(["Fixed in #6?"]);
    expect(obj(second.json).nextCursor).toBeUndefined();
  });

  test("add_issue_comment: POST {body}; the comment is listed afterwards", async () => {
    const { client, key, repo } = await setup();
    const mark = fake.requests.length;
    const res = await callTool(client, "add_issue_comment", {
      ...repo,
      issue_number: 6,
      body: "LGTM :rocket:",
    });
    expect(res.isError).toBe(false);
    const req = onlyRequest(key, mark);
    expect(req).toMatchObject({ method: "POST", path: `/repos/${repo.owner}/hello-world/issues/6/comments` });
    expect(req.body).toEqual({ body: "LGTM :rocket:" });
    expect(res.json).toMatchObject({ body: "LGTM :rocket:", user: { login: repo.owner } });
    expect(String(obj(res.json).html_url)).toMatch(/\/issues\/6#issuecomment-[0-9]+$/);
    const list = await callTool(client, "list_issue_comments", { ...repo, issue_number: 6 });
    expect(items(list.json).map((c) => c.body)).toEqual(["LGTM :rocket:"]);
  });

  test("list_pull_requests: GET /repos/{owner}/{repo}/pulls, pages, filters by head", async () => {
    const { client, key, repo } = await setup();
    let mark = fake.requests.length;
    const first = await callTool(client, "list_pull_requests", { ...repo, per_page: 1 });
    expect(onlyRequest(key, mark)).toMatchObject({
      method: "GET",
      path: `/repos/${repo.owner}/hello-world/pulls`,
      query: { per_page: "1" },
    });
    expect(items(first.json)).toEqual([
      expect.objectContaining({
        number: 7,
        draft: true,
        head: { ref: "dark-mode", sha: expect.any(String), repo: { full_name: `${repo.owner}/hello-world` } },
        base: { ref: "main" },
        requested_reviewers: [{ login: repo.owner }],
      }),
    ]);
    expect(items(first.json)[0]?.body).toBeUndefined();
    const second = await callTool(client, "list_pull_requests", {
      ...repo,
      per_page: 1,
      cursor: obj(first.json).nextCursor,
    });
    expect(items(second.json).map((p) => p.number)).toEqual([6]);
    expect(obj(second.json).nextCursor).toBeUndefined();
    mark = fake.requests.length;
    const byHead = await callTool(client, "list_pull_requests", {
      ...repo,
      head: `${repo.owner}:fix-save`,
      state: "all",
    });
    expect(onlyRequest(key, mark).query).toEqual({ head: `${repo.owner}:fix-save`, state: "all" });
    expect(items(byHead.json).map((p) => p.number)).toEqual([6]);
  });

  test("get_pull_request: GET /repos/{owner}/{repo}/pulls/{number}", async () => {
    const { client, key, repo } = await setup();
    const mark = fake.requests.length;
    const res = await callTool(client, "get_pull_request", { ...repo, pull_number: 6 });
    expect(onlyRequest(key, mark)).toMatchObject({
      method: "GET",
      path: `/repos/${repo.owner}/hello-world/pulls/6`,
    });
    expect(res.json).toMatchObject({
      number: 6,
      title: "Fix crash when saving",
      merged: false,
      mergeable: true,
      mergeable_state: "clean",
      additions: 12,
      deletions: 3,
      changed_files: 2,
      head: { ref: "fix-save" },
    });
    expect(obj(res.json)._links).toBeUndefined();
  });
});

describe("isolation", () => {
  test("two users' calls each carry only their own key and see only their own account", async () => {
    const [a, b] = await Promise.all([setup(), setup()]);
    const mark = fake.requests.length;
    const [ma, mb, ra, rb] = await Promise.all([
      callTool(a.client, "get_me"),
      callTool(b.client, "get_me"),
      callTool(a.client, "list_issues", a.repo),
      callTool(b.client, "list_issues", b.repo),
    ]);
    expect(obj(ma.json).login).toBe(a.login);
    expect(obj(mb.json).login).toBe(b.login);
    expect(items(ra.json)[0]?.html_url).toContain(`/${a.login}/`);
    expect(items(rb.json)[0]?.html_url).toContain(`/${b.login}/`);
    const seen = fake.requests.slice(mark);
    const aliceReqs = seen.filter((r) =>
      r.path === "/user" ? r.headers.authorization?.endsWith(a.key) : r.path.includes(a.login),
    );
    const bobReqs = seen.filter((r) =>
      r.path === "/user" ? r.headers.authorization?.endsWith(b.key) : r.path.includes(b.login),
    );
    expect(aliceReqs).toHaveLength(2);
    expect(bobReqs).toHaveLength(2);
    expectOnlyCredential(aliceReqs, "authorization", `Bearer ${a.key}`);
    expectOnlyCredential(bobReqs, "authorization", `Bearer ${b.key}`);
    expect(seen).toHaveLength(4);
    // Bob cannot reach Alice's repositories through his own instance: to his token they do not exist.
    const cross = await callTool(b.client, "get_repository", a.repo);
    expect(cross.isError).toBe(true);
    expect(cross.text).toContain("Not Found");
    expectOnlyCredential(sent(b.key, mark), "authorization", `Bearer ${b.key}`);
  });
});

describe("bad input never reaches GitHub", () => {
  test("path escapes, encoded slashes, missing and out-of-range arguments, forged cursors", async () => {
    const { client, key, login } = await setup();
    const mark = fake.requests.length;
    const refused: [string, Record<string, unknown>][] = [
      ["get_repository", { owner: "../user", repo: "x" }],
      ["get_repository", { owner: login, repo: ".." }],
      ["get_repository", { owner: "..", repo: "hello-world" }],
      ["get_repository", { owner: login, repo: "hello-world%2F..%2F..%2Fuser" }],
      ["get_repository", { owner: `${login}/hello-world`, repo: "issues" }],
      ["get_repository", { owner: login }],
      ["get_issue", { owner: login, repo: "hello-world" }],
      ["get_issue", { owner: login, repo: "hello-world", issue_number: 0 }],
      ["get_issue", { owner: login, repo: "hello-world", issue_number: "1/comments" }],
      ["list_issues", { owner: login, repo: "hello-world", per_page: 101 }],
      ["list_issues", { owner: login, repo: "hello-world", state: "everything" }],
      ["create_issue", { owner: login, repo: "hello-world" }],
      ["create_issue", { owner: login, repo: "hello-world", title: "x", extra: true }],
      ["add_issue_comment", { owner: login, repo: "hello-world", issue_number: 1, body: "" }],
      ["search_repositories", { q: "x".repeat(257) }],
      [
        "list_issues",
        { owner: login, repo: "hello-world", cursor: forgedCursor("https://evil.example/user") },
      ],
      ["list_issues", { owner: login, repo: "hello-world", cursor: "page=2" }],
    ];
    for (const [name, args] of refused) await expectInvalidParams(client, name, args);
    expect(sent(key, mark)).toEqual([]);
  });
});

describe("GitHub's errors", () => {
  test("404 Not Found and 422 Validation Failed become tool errors with GitHub's message", async () => {
    const { client, key, login, repo } = await setup();
    const mark = fake.requests.length;
    const missing = await callTool(client, "get_repository", { owner: login, repo: "no-such-repo" });
    expect(missing.isError).toBe(true);
    expect(missing.text).toContain("404");
    expect(missing.text).toContain("Not Found");
    const notAPull = await callTool(client, "get_pull_request", { ...repo, pull_number: 1 });
    expect(notAPull.isError).toBe(true);
    expect(notAPull.text).toContain("Not Found");

    const invalid = await callTool(client, "create_issue", {
      ...repo,
      title: "x",
      assignees: ["someone-else"],
    });
    expect(invalid.isError).toBe(true);
    expect(invalid.text).toContain("422");
    expect(invalid.text).toContain("Validation Failed");
    expect(sent(key, mark).map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /repos/${login}/no-such-repo`,
      `GET /repos/${login}/hello-world/pulls/1`,
      `POST /repos/${login}/hello-world/issues`,
    ]);
  });

  test("a token without write access: 403 is a permission error, the key stays connected", async () => {
    const { client, key, user, repo } = await setup({ readOnly: true });
    const mark = fake.requests.length;
    const res = await callTool(client, "add_issue_comment", { ...repo, issue_number: 1, body: "hi" });
    expect(res.isError).toBe(true);
    expect(res.text).toContain("Resource not accessible by personal access token");
    expect(res.text).toContain("still valid");
    // The refusal was confirmed by re-checking the key with GET /user.
    expect(sent(key, mark).map((r) => `${r.method} ${r.path}`)).toEqual([
      `POST /repos/${repo.owner}/hello-world/issues/1/comments`,
      "GET /user",
    ]);
    const list = await trpc(stack, "instances.list", undefined, { cookie: user.cookie });
    expect(list.body.result?.data).toEqual([expect.objectContaining({ status: "active" })]);
    const read = await callTool(client, "get_issue", { ...repo, issue_number: 1 });
    expect(read.isError).toBe(false);
  });

  test("a token revoked on GitHub: 401 Bad credentials tells the user to reconnect", async () => {
    const { client, key, user, repo } = await setup();
    expect((await callTool(client, "get_issue", { ...repo, issue_number: 2 })).isError).toBe(false);
    fake.removeKey(key);
    const mark = fake.requests.length;
    const res = await callTool(client, "get_issue", { ...repo, issue_number: 3 });
    expect(res.isError).toBe(true);
    expect(res.text).toMatch(/Reconnect GitHub/);
    expect(sent(key, mark).map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /repos/${repo.owner}/hello-world/issues/3`,
      "GET /user",
    ]);
    const list = await trpc(stack, "instances.list", undefined, { cookie: user.cookie });
    expect(list.body.result?.data).toEqual([expect.objectContaining({ status: "needs_reauth" })]);
  });

  test("the primary rate limit (403, x-ratelimit-remaining: 0) is a rate-limited error; calls then wait", async () => {
    const { client, key, repo } = await setup();
    const reset = Math.floor(Date.now() / 1000) + 120;
    fake.exhaust(key, reset);
    const mark = fake.requests.length;
    const res = await callTool(client, "list_issues", repo);
    expect(res.isError).toBe(true);
    expect(res.text).toMatch(/retry after [0-9]+ seconds/);
    const wait = Number(res.meta?.retryAfterSeconds);
    expect(wait).toBeGreaterThan(60);
    expect(wait).toBeLessThanOrEqual(121);
    expect(sent(key, mark)).toHaveLength(1);

    // The next call (another tool, nothing cached) waits without reaching GitHub.
    const next = await callTool(client, "create_issue", { ...repo, title: "should not be sent" });
    expect(next.isError).toBe(true);
    expect(next.text).toMatch(/retry after [0-9]+ seconds/);
    expect(sent(key, mark)).toHaveLength(1);
  });

  test("a secondary rate limit (403 with Retry-After) is a rate-limited error with GitHub's wait", async () => {
    const { client, key, repo } = await setup();
    const mark = fake.requests.length;
    fake.secondaryRateLimitNext(30);
    const res = await callTool(client, "add_issue_comment", { ...repo, issue_number: 1, body: "burst" });
    expect(res.isError).toBe(true);
    expect(res.text).toContain("retry after 30 seconds");
    expect(res.meta?.retryAfterSeconds).toBe(30);
    // Not mistaken for a refused key: no re-check, and the next call waits without reaching GitHub.
    expect(sent(key, mark)).toHaveLength(1);
    const next = await callTool(client, "get_issue", { ...repo, issue_number: 5 });
    expect(next.isError).toBe(true);
    expect(sent(key, mark)).toHaveLength(1);
  });
});
