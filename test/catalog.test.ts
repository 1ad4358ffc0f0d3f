// The service catalogue's cross-cutting behaviour, end to end on GitHub and Jira (any REST service behaves
// the same): reconnecting keeps the URL, additional credentials are checked and used, oversized, non-JSON
// and rate-limited answers, limits from the definition and the environment, and the public catalogue.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Client } from "@modelcontextprotocol/client";
import { data, type TestUser, trpc } from "./client.ts";
import { type GitHubFake, startGitHubFake } from "./fakes/github.ts";
import { type FakeJira, startJiraFake } from "./fakes/jira.ts";
import { hugeJson } from "./fakes/upstream.ts";
import { type Stack, startStack } from "./harness.ts";
import { callTool, connect, connectRaw, expectInvalidParams, mcpClient, newUser } from "./services/kit.ts";

let github: GitHubFake;
let jira: FakeJira;
let stack: Stack;

beforeAll(async () => {
  github = await startGitHubFake();
  jira = await startJiraFake();
  stack = await startStack({
    serviceEnv: {
      ENABLED_SERVICES: "figma,github,jira",
      SERVICE_GITHUB_BASE_URL: github.url,
      SERVICE_JIRA_BASE_URL: jira.url,
    },
  });
});
afterAll(async () => {
  await stack?.stop();
  github?.stop();
  jira?.stop();
});

function githubKey(): { key: string; login: string } {
  const id = crypto.randomUUID().replaceAll("-", "");
  const login = `cat-${id.slice(0, 12)}`;
  const key = `test_gh_token_${id}`;
  github.addKey(key, login);
  return { key, login };
}

/** A regenerated token of the same GitHub account. */
function sameAccountKey(of: { key: string; login: string }): { key: string; login: string } {
  const key = `test_gh_token_${crypto.randomUUID().replaceAll("-", "")}`;
  github.addKeyFor(of.key, key);
  return { key, login: of.login };
}

const requestsWith = (key: string) =>
  github.requests.filter((r) => r.headers.authorization === `Bearer ${key}`);

async function instanceOf(user: TestUser, serviceType: string) {
  const list = data<{ serviceType: string; status: string; account: unknown }[]>(
    await trpc(stack, "instances.list", undefined, { cookie: user.cookie }),
  );
  return list.find((i) => i.serviceType === serviceType);
}

/** A write (never served from the read cache): it shows which key the instance now sends. */
const comment = (client: Client, login: string) =>
  callTool(client, "add_issue_comment", { owner: login, repo: "hello-world", issue_number: 1, body: "hi" });

async function expectDead(url: string): Promise<void> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
  });
  expect(res.status).toBe(401);
}

describe("a new key keeps the instance URL", () => {
  test("expired key → needs_reauth; updateCredentials puts a new key in place, the URL keeps working", async () => {
    const user = await newUser(stack);
    const first = githubKey();
    const second = sameAccountKey(first);
    const third = sameAccountKey(first);
    const { instanceUrl } = await connect(stack, user, "github", first.key);
    const client = await mcpClient(instanceUrl);
    expect((await callTool(client, "get_me")).json).toMatchObject({ login: first.login });
    expect(await instanceOf(user, "github")).toMatchObject({
      status: "active",
      account: { name: first.login },
    });

    github.removeKey(first.key);
    const expired = await comment(client, first.login);
    expect(expired.isError).toBe(true);
    expect(expired.text).toContain("Reconnect GitHub");
    expect((await instanceOf(user, "github"))?.status).toBe("needs_reauth");

    const updated = await trpc(
      stack,
      "instances.updateCredentials",
      { serviceType: "github", apiKey: second.key },
      { cookie: user.cookie },
    );
    expect(data(updated)).toMatchObject({
      serviceType: "github",
      status: "active",
      account: { name: first.login },
    });
    expect(JSON.stringify(updated.body)).not.toContain(second.key);
    // Same URL, same client: the new key is the one used from now on.
    const before = requestsWith(second.key).length;
    expect((await comment(client, first.login)).isError).toBe(false);
    expect(requestsWith(second.key).length).toBe(before + 1);
    expect((await instanceOf(user, "github"))?.status).toBe("active");

    // `instances.connect` again does the same and hands back the very same URL.
    expect((await connect(stack, user, "github", third.key)).instanceUrl).toBe(instanceUrl);
    expect((await comment(client, first.login)).isError).toBe(false);
    expect(requestsWith(third.key)).toHaveLength(2);
  });

  test("a key of another account: updateCredentials is a 409 CONFLICT; connect issues a new URL, the old one stops", async () => {
    const user = await newUser(stack);
    const mine = githubKey();
    const { instanceUrl } = await connect(stack, user, "github", mine.key);
    const theirs = githubKey();
    const res = await trpc(
      stack,
      "instances.updateCredentials",
      { serviceType: "github", apiKey: theirs.key },
      { cookie: user.cookie },
    );
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ error: { data: { appCode: "CONFLICT" } } });
    // Nothing changed: the URL still reaches my account.
    expect((await callTool(await mcpClient(instanceUrl), "get_me")).json).toMatchObject({
      login: mine.login,
    });

    // Clients configured with the old URL must not silently act on another account.
    const switched = await connect(stack, user, "github", theirs.key);
    expect(switched.instanceUrl).not.toBe(instanceUrl);
    await expectDead(instanceUrl);
    expect((await callTool(await mcpClient(switched.instanceUrl), "get_me")).json).toMatchObject({
      login: theirs.login,
    });
  });

  test("a rejected new key changes nothing: 400 INVALID_API_KEY and the old key still serves", async () => {
    const user = await newUser(stack);
    const good = githubKey();
    const { instanceUrl } = await connect(stack, user, "github", good.key);
    const res = await trpc(
      stack,
      "instances.updateCredentials",
      { serviceType: "github", apiKey: "test_gh_token_not_a_real_one" },
      { cookie: user.cookie },
    );
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { data: { appCode: "INVALID_API_KEY" } } });
    const client = await mcpClient(instanceUrl);
    expect((await callTool(client, "get_me")).json).toMatchObject({ login: good.login });
  });

  test("updateCredentials needs an instance of the caller's own: another user's is NOT_FOUND", async () => {
    const owner = await newUser(stack);
    const other = await newUser(stack);
    const ownerKey = githubKey();
    const { instanceUrl } = await connect(stack, owner, "github", ownerKey.key);
    const intruder = githubKey();
    const res = await trpc(
      stack,
      "instances.updateCredentials",
      { serviceType: "github", apiKey: intruder.key },
      { cookie: other.cookie },
    );
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error: { data: { appCode: "NOT_FOUND" } } });
    // Nothing was validated with the intruder's key, and the owner's instance still uses the owner's key.
    expect(requestsWith(intruder.key)).toHaveLength(0);
    expect((await callTool(await mcpClient(instanceUrl), "get_me")).json).toMatchObject({
      login: ownerKey.login,
    });
  });

  test("REST: PUT /api/v1/services/:type/credentials replaces the key, the URL stays", async () => {
    const user = await newUser(stack);
    const first = githubKey();
    const { instanceUrl } = await connect(stack, user, "github", first.key);
    const second = sameAccountKey(first);
    const res = await fetch(`${stack.controlPlaneUrl}/api/v1/services/github/credentials`, {
      method: "PUT",
      headers: { "content-type": "application/json", cookie: user.cookie, origin: stack.controlPlaneUrl },
      body: JSON.stringify({ apiKey: second.key }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ serviceType: "github", status: "active" });
    expect((await comment(await mcpClient(instanceUrl), first.login)).isError).toBe(false);
    expect(requestsWith(second.key)).toHaveLength(2);
  });
});

describe("page cursors", () => {
  test("are signed for one credential and tool: another user's, another tool's or an edited one is refused", async () => {
    const a = githubKey();
    const b = githubKey();
    const clientA = await mcpClient(
      (await connect(stack, await newUser(stack), "github", a.key)).instanceUrl,
    );
    const clientB = await mcpClient(
      (await connect(stack, await newUser(stack), "github", b.key)).instanceUrl,
    );
    const page = await callTool(clientA, "list_issues", { owner: a.login, repo: "hello-world", per_page: 2 });
    const cursor = (page.json as { nextCursor?: string }).nextCursor ?? "";
    expect(cursor).toMatch(/^c1\./);
    // Decoded, it names only a GitHub URL, never the key.
    expect(Buffer.from(cursor.split(".")[1] ?? "", "base64url").toString()).not.toContain(a.key);

    const sent = github.requests.length;
    const [version, payload, mac] = cursor.split(".");
    const forged = `${version}.${Buffer.from(JSON.stringify(`${github.url}/user/emails`)).toString("base64url")}.${mac}`;
    const refusals: [typeof clientA, string, Record<string, unknown>][] = [
      [clientB, "list_issues", { owner: b.login, repo: "hello-world", cursor }],
      [clientA, "list_pull_requests", { owner: a.login, repo: "hello-world", cursor }],
      [clientA, "list_issues", { owner: a.login, repo: "hello-world", cursor: forged }],
      [
        clientA,
        "list_issues",
        { owner: a.login, repo: "hello-world", cursor: `${version}.${payload}.AAAA${mac?.slice(4)}` },
      ],
    ];
    for (const [client, tool, args] of refusals) {
      expect(await expectInvalidParams(client, tool, args)).toContain(
        "cursor is not a nextCursor this tool returned",
      );
    }
    expect(github.requests.length).toBe(sent);
    // Where it was issued, it works.
    const next = await callTool(clientA, "list_issues", {
      owner: a.login,
      repo: "hello-world",
      per_page: 2,
      cursor,
    });
    expect(next.isError).toBe(false);
  });
});

describe("additional credentials", () => {
  test("Jira's site and email are checked before anything is sent; a bad one is named, nothing is stored", async () => {
    const user = await newUser(stack);
    const before = jira.requests.length;
    const cases: [Record<string, string> | undefined, string][] = [
      [undefined, "additionalCredentials.site"],
      [{ site: "evil.example.com", email: "ada@example.com" }, "additionalCredentials.site"],
      [{ site: "acme.atlassian.net" }, "additionalCredentials.email"],
      [{ site: "acme.atlassian.net", email: "ada@example.com", extra: "x" }, "additionalCredentials.extra"],
    ];
    for (const [additional, field] of cases) {
      const res = await connectRaw(stack, user, "jira", "test-jira-token-0001", additional);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: { data: { appCode: "BAD_REQUEST" } } });
      expect(JSON.stringify(res.body)).toContain(field);
    }
    expect(jira.requests.length).toBe(before);
    expect(await instanceOf(user, "jira")).toBeUndefined();
  });
});

describe("answers the model cannot use as they are", () => {
  let client: Awaited<ReturnType<typeof mcpClient>>;
  let key: string;
  let login: string;
  beforeAll(async () => {
    const user = await newUser(stack);
    ({ key, login } = githubKey());
    client = await mcpClient((await connect(stack, user, "github", key)).instanceUrl);
  });
  const repo = () => ({ owner: login, repo: "hello-world" });

  test("a 20 MB answer is cut with a note, not refused and not read whole", async () => {
    github.answerNext(() => hugeJson(20 * 1024 * 1024));
    const answer = await callTool(client, "get_repository", repo());
    expect(answer.isError).toBe(false);
    expect(answer.text).toContain("[Truncated: the response was over the size limit");
    expect(answer.text.length).toBeLessThan(110_000);
  });

  test("an HTML page behind a 200 and invalid JSON are tool errors naming what came back", async () => {
    github.answerNext(
      () => new Response("<html><body>Unicorn!</body></html>", { headers: { "content-type": "text/html" } }),
    );
    const html = await callTool(client, "get_repository", repo());
    expect(html).toMatchObject({ isError: true });
    expect(html.text).toContain("not JSON (HTTP 200, text/html)");
    github.answerNext(
      () => new Response('{"id": 1, "name": ', { headers: { "content-type": "application/json" } }),
    );
    const broken = await callTool(client, "get_repository", repo());
    expect(broken.isError).toBe(true);
    expect(broken.text).toContain("not JSON (HTTP 200, application/json)");
  });

  test("a 429 with Retry-After: the wait reaches the client and the credential waits it out", async () => {
    github.answerNext(() =>
      Response.json({ message: "slow down" }, { status: 429, headers: { "retry-after": "42" } }),
    );
    const limited = await callTool(client, "get_repository", repo());
    expect(limited.isError).toBe(true);
    expect(limited.text).toContain("retry after 42 seconds");
    expect(limited.meta).toMatchObject({ retryAfterSeconds: 42 });
    const sent = requestsWith(key).length;
    const again = await callTool(client, "get_issue", { ...repo(), issue_number: 1 });
    expect(again.isError).toBe(true);
    expect(again.text).toMatch(/retry after (4[0-2]|3[0-9]) seconds/);
    expect(requestsWith(key).length).toBe(sent);
  });
});

describe("rate limits from the definition and the environment", () => {
  test("SERVICE_<TYPE>_RATE_LIMIT caps a service across users; 0 lifts every limit", async () => {
    const fake = await startGitHubFake();
    const tight = await startStack({
      serviceEnv: {
        ENABLED_SERVICES: "figma,github",
        SERVICE_GITHUB_BASE_URL: fake.url,
        SERVICE_GITHUB_RATE_LIMIT: "3",
      },
    });
    const open = await startStack({
      limits: { perInstancePerMinute: 0, perUserPerMinute: 0 },
      serviceEnv: {
        ENABLED_SERVICES: "figma,github",
        SERVICE_GITHUB_BASE_URL: fake.url,
        SERVICE_GITHUB_RATE_LIMIT: "0",
      },
    });
    try {
      const key = `test_gh_token_${crypto.randomUUID().replaceAll("-", "")}`;
      fake.addKey(key, "limits-user");
      const post = (url: string) =>
        fetch(url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
            "mcp-protocol-version": "2025-06-18",
          },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
        });
      const a = await connect(tight, await newUser(tight), "github", key);
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await post(a.instanceUrl)).status);
      expect(statuses).toEqual([200, 200, 200, 429]);

      // GitHub's definition allows 80 a minute per instance; with every limit at 0 nothing is counted.
      const b = await connect(open, await newUser(open), "github", key);
      // One first, so the edge knows the token: a burst of lookups of an unknown token from one address is
      // the token-guessing defence's business, not this test's.
      expect((await post(b.instanceUrl)).status).toBe(200);
      const many = await Promise.all(Array.from({ length: 89 }, () => post(b.instanceUrl)));
      expect(many.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
    } finally {
      await tight.stop();
      await open.stop();
      fake.stop();
    }
  }, 120_000);

  test("the definition's per-instance limit applies when the operator sets none", async () => {
    const user = await newUser(stack);
    const { instanceUrl } = await connect(stack, user, "github", githubKey().key);
    const post = (i: number) =>
      fetch(instanceUrl, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-protocol-version": "2025-06-18",
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: i, method: "tools/list" }),
      });
    // One first (the edge then knows the token), then the rest at once: the count is atomic, so exactly the
    // definition's 80 pass, whatever the order.
    expect((await post(0)).status).toBe(200);
    const statuses = (await Promise.all(Array.from({ length: 80 }, (_, i) => post(i + 1)))).map(
      (r) => r.status,
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(79);
    expect(statuses.filter((s) => s === 429)).toHaveLength(1);
  }, 120_000);
});

describe("the public catalogue", () => {
  test("services.list says where to get a key, which extra fields to give, and every tool's annotations", async () => {
    const services = data<
      {
        type: string;
        keyUrl: string;
        docsUrl: string;
        auth: string;
        additionalCredentials: { name: string; required: boolean; secret: boolean }[];
        tools: { name: string; title: string; annotations: Record<string, boolean> }[];
      }[]
    >(await trpc(stack, "services.list"));
    const jiraEntry = services.find((s) => s.type === "jira");
    expect(jiraEntry?.auth).toBe("basic");
    expect(jiraEntry?.keyUrl).toContain("atlassian.com");
    expect(jiraEntry?.additionalCredentials.map((f) => f.name).sort()).toEqual(["email", "site"]);
    for (const service of services) {
      expect(service.keyUrl).toMatch(/^https:\/\//);
      expect(service.tools.length).toBeGreaterThanOrEqual(6);
      for (const tool of service.tools) {
        expect(tool.title.length).toBeGreaterThan(0);
        for (const hint of ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"]) {
          expect(typeof tool.annotations[hint]).toBe("boolean");
        }
      }
    }
  });
});
