// The Slack service end to end: users connect their own Slack tokens (checked with auth.test), and a real MCP
// client calls every Slack tool through their instance URLs against a fake Slack Web API.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Client } from "@modelcontextprotocol/client";
import { data, trpc } from "../client.ts";
import { type FakeSlack, type FakeSlackWorkspace, startSlackFake } from "../fakes/slack.ts";
import { json, type RecordedUpstreamRequest } from "../fakes/upstream.ts";
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

let stack: Stack;
let fake: FakeSlack;
const clients: Client[] = [];

beforeAll(async () => {
  fake = await startSlackFake();
  stack = await startServiceStack("slack", fake.apiUrl);
});
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await stack.stop();
  fake.stop();
});

/** A fresh fake token (xoxb- bot or xoxp- user) with its own workspace upstream. */
function slackKey(who: string, kind: "xoxb" | "xoxp" = "xoxb"): { token: string; ws: FakeSlackWorkspace } {
  const token = `${kind}-fake-${crypto.randomUUID()}`;
  return { token, ws: fake.addKey(token, who) };
}

interface Connected {
  user: TestUser;
  client: Client;
  token: string;
  ws: FakeSlackWorkspace;
}

async function connected(who: string, kind: "xoxb" | "xoxp" = "xoxb"): Promise<Connected> {
  const { token, ws } = slackKey(who, kind);
  const { user, client } = await userWithInstance(stack, "slack", token);
  clients.push(client);
  return { user, client, token, ws };
}

/** The requests the fake received while `run` ran. */
async function recorded(run: () => Promise<unknown>): Promise<RecordedUpstreamRequest[]> {
  const mark = fake.requests.length;
  await run();
  return fake.requests.slice(mark);
}

const channelNamed = (ws: FakeSlackWorkspace, name: string) => {
  const c = ws.channels.find((ch) => ch.name === name);
  if (!c) throw new Error(`no #${name}`);
  return c;
};

async function instancesOf(user: TestUser) {
  const res = await trpc(stack, "instances.list", undefined, { cookie: user.cookie });
  return data<{ status: string; account: { id?: string; name?: string } | null }[]>(res);
}

describe("slack: connecting", () => {
  test("a wrong token is refused by auth.test with INVALID_API_KEY and nothing is stored", async () => {
    const user = await newUser(stack);
    const wrong = `xoxb-fake-${crypto.randomUUID()}`;
    const seen = await recorded(async () => {
      const res = await connectRaw(stack, user, "slack", wrong);
      expect(res.status).toBe(400);
      expect(res.body.error?.data.appCode).toBe("INVALID_API_KEY");
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: "GET", path: "/api/auth.test" });
    expect(seen[0]?.headers.authorization).toBe(`Bearer ${wrong}`);
    expect(await instancesOf(user)).toEqual([]);
  });

  test("a good token connects, showing the Slack user it belongs to", async () => {
    const { user, ws, token } = await connected("ada");
    const [instance] = await instancesOf(user);
    expect(instance?.status).toBe("active");
    expect(instance?.account).toMatchObject({ id: ws.userId, name: ws.user });
    expect(
      fake.requests.some((r) => r.path === "/api/auth.test" && r.headers.authorization === `Bearer ${token}`),
    ).toBe(true);
  });

  test("the eight tools are listed with truthful annotations and a cursor on paginated ones", async () => {
    const { client } = await connected("lister");
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      "add_reaction",
      "get_channel_history",
      "get_thread_replies",
      "get_user_info",
      "list_channels",
      "list_users",
      "post_message",
      "search_messages",
    ]);
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const name of ["post_message", "add_reaction"]) {
      expect(byName.get(name)?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false });
    }
    for (const name of ["list_channels", "get_channel_history", "get_thread_replies", "list_users"]) {
      expect(byName.get(name)?.annotations?.readOnlyHint).toBe(true);
      expect(Object.keys(byName.get(name)?.inputSchema.properties ?? {})).toContain("cursor");
    }
  });
});

describe("slack: tools", () => {
  let ada: Connected;
  beforeAll(async () => {
    ada = await connected("ada");
  });

  test("list_channels: GET conversations.list with types, exclude_archived and limit; fields trimmed", async () => {
    let answer: Awaited<ReturnType<typeof callTool>> | undefined;
    const seen = await recorded(async () => {
      answer = await callTool(ada.client, "list_channels", {
        types: ["public_channel", "private_channel"],
        exclude_archived: true,
        limit: 50,
      });
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      method: "GET",
      path: "/api/conversations.list",
      query: { types: "public_channel,private_channel", exclude_archived: "true", limit: "50" },
    });
    expectOnlyCredential(seen, "authorization", `Bearer ${ada.token}`);
    expect(answer?.isError).toBe(false);
    const result = answer?.json as { channels: Record<string, unknown>[]; nextCursor?: string };
    expect(result.nextCursor).toBeUndefined();
    expect(result.channels.map((c) => c.name)).toEqual([
      "general",
      "random",
      "design",
      "team-01",
      "team-02",
      "team-03",
      "team-04",
      "team-05",
    ]);
    const general = channelNamed(ada.ws, "general");
    expect(result.channels[0]).toEqual({
      id: general.id,
      name: "general",
      is_channel: true,
      is_private: false,
      is_archived: false,
      is_general: true,
      is_member: true,
      is_im: false,
      is_mpim: false,
      created: general.created,
      num_members: 4,
      topic: { value: "ada's workspace" },
      purpose: { value: "" },
    });
    expect(result.channels.find((c) => c.name === "design")?.is_private).toBe(true);
  });

  test("list_channels pages with Slack's cursor: nextCursor to the second page and to the end", async () => {
    const first = await callTool(ada.client, "list_channels", { limit: 3 });
    const page1 = first.json as { channels: { id: string; name: string }[]; nextCursor?: string };
    expect(page1.channels).toHaveLength(3);
    expect(page1.nextCursor).toBeString();

    const ids = page1.channels.map((c) => c.id);
    let cursor = page1.nextCursor;
    let pages = 1;
    while (cursor) {
      const mark = fake.requests.length;
      const next = await callTool(ada.client, "list_channels", { limit: 3, cursor });
      const req = fake.requests[mark];
      // The model's opaque cursor went back to Slack as Slack's own next_cursor, in the query.
      expect(req?.query.cursor).toMatch(/^[A-Za-z0-9+/=]+$/);
      expect(req?.query.limit).toBe("3");
      const page = next.json as { channels: { id: string }[]; nextCursor?: string };
      ids.push(...page.channels.map((c) => c.id));
      cursor = page.nextCursor;
      pages += 1;
      expect(pages).toBeLessThan(10);
    }
    expect(pages).toBe(3);
    // Public channels only by default, archived ones included: every one exactly once.
    const publicIds = ada.ws.channels.filter((c) => !c.is_private).map((c) => c.id);
    expect(ids).toEqual(publicIds);
  });

  test("get_channel_history: GET conversations.history, newest first, with paging", async () => {
    const general = channelNamed(ada.ws, "general");
    const first = await recorded(async () => {
      const answer = await callTool(ada.client, "get_channel_history", { channel: general.id, limit: 2 });
      expect(answer.isError).toBe(false);
      const result = answer.json as {
        messages: Record<string, unknown>[];
        has_more: boolean;
        nextCursor?: string;
      };
      expect(result.messages.map((m) => m.text)).toEqual(["lunch at noon", "release plan?"]);
      expect(result.messages[1]).toMatchObject({ reply_count: 2, thread_ts: general.messages[1]?.ts });
      expect(result.has_more).toBe(true);
      expect(result.nextCursor).toBeString();
      const rest = await callTool(ada.client, "get_channel_history", {
        channel: general.id,
        limit: 2,
        cursor: result.nextCursor,
      });
      const last = rest.json as { messages: { text: string }[]; has_more: boolean; nextCursor?: string };
      expect(last.messages.map((m) => m.text)).toEqual([`welcome to ada's workspace`]);
      expect(last.has_more).toBe(false);
      expect(last.nextCursor).toBeUndefined();
    });
    expect(first).toHaveLength(2);
    expect(first[0]).toMatchObject({
      method: "GET",
      path: "/api/conversations.history",
      query: { channel: general.id, limit: "2" },
    });
    expect(first[1]?.query.cursor).toBeString();
    expectOnlyCredential(first, "authorization", `Bearer ${ada.token}`);
  });

  test("get_channel_history passes oldest, latest and inclusive", async () => {
    const general = channelNamed(ada.ws, "general");
    const [m0, m1] = general.messages;
    if (!m0 || !m1) throw new Error("seed messages missing");
    const seen = await recorded(async () => {
      const answer = await callTool(ada.client, "get_channel_history", {
        channel: general.id,
        oldest: m0.ts,
        latest: m1.ts,
        inclusive: true,
      });
      const result = answer.json as { messages: { ts: string }[] };
      expect(result.messages.map((m) => m.ts)).toEqual([m1.ts, m0.ts]);
    });
    expect(seen[0]?.query).toEqual({
      channel: general.id,
      oldest: m0.ts,
      latest: m1.ts,
      inclusive: "true",
    });
  });

  test("get_thread_replies: GET conversations.replies with channel and ts; parent first", async () => {
    const general = channelNamed(ada.ws, "general");
    const parent = general.messages[1];
    const seen = await recorded(async () => {
      const answer = await callTool(ada.client, "get_thread_replies", {
        channel: general.id,
        ts: parent?.ts,
      });
      expect(answer.isError).toBe(false);
      const result = answer.json as { messages: { text: string; ts: string; thread_ts: string }[] };
      expect(result.messages.map((m) => m.text)).toEqual(["release plan?", "ship on friday", "agreed"]);
      expect(result.messages.every((m) => m.thread_ts === parent?.ts)).toBe(true);
    });
    expect(seen).toHaveLength(1);
    // A page size is always sent: Slack's own default is 1,000 replies in one answer.
    expect(seen[0]).toMatchObject({
      method: "GET",
      path: "/api/conversations.replies",
      query: { channel: general.id, ts: parent?.ts, limit: "100" },
    });
    expectOnlyCredential(seen, "authorization", `Bearer ${ada.token}`);
  });

  test("get_thread_replies of a ts that is no thread: Slack's thread_not_found as a tool error", async () => {
    const general = channelNamed(ada.ws, "general");
    const answer = await callTool(ada.client, "get_thread_replies", {
      channel: general.id,
      ts: "1000000000.000001",
    });
    expect(answer.isError).toBe(true);
    expect(answer.text).toContain("thread_not_found");
  });

  test("post_message: POST chat.postMessage with a JSON body; the message is readable afterwards", async () => {
    const random = channelNamed(ada.ws, "random");
    let ts = "";
    const seen = await recorded(async () => {
      const answer = await callTool(ada.client, "post_message", { channel: random.id, text: "hello *team*" });
      expect(answer.isError).toBe(false);
      const result = answer.json as { channel: string; ts: string; message: Record<string, unknown> };
      expect(result.channel).toBe(random.id);
      expect(result.ts).toMatch(/^[0-9]{10}\.[0-9]{6}$/);
      expect(result.message).toMatchObject({ user: ada.ws.userId, text: "hello *team*", ts: result.ts });
      expect(result).not.toHaveProperty("warning");
      ts = result.ts;
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      method: "POST",
      path: "/api/chat.postMessage",
      body: { channel: random.id, text: "hello *team*" },
    });
    expect(seen[0]?.headers["content-type"]).toStartWith("application/json");
    expectOnlyCredential(seen, "authorization", `Bearer ${ada.token}`);
    expect(random.messages.at(-1)?.ts).toBe(ts);

    const history = await callTool(ada.client, "get_channel_history", { channel: random.id });
    expect((history.json as { messages: { ts: string }[] }).messages[0]?.ts).toBe(ts);
  });

  test("post_message with thread_ts replies in the thread", async () => {
    const general = channelNamed(ada.ws, "general");
    const parent = general.messages[1];
    const seen = await recorded(async () => {
      const answer = await callTool(ada.client, "post_message", {
        channel: general.id,
        text: "on it",
        thread_ts: parent?.ts,
        reply_broadcast: false,
      });
      expect((answer.json as { message: { thread_ts: string } }).message.thread_ts).toBe(parent?.ts ?? "");
    });
    expect(seen[0]?.body).toEqual({
      channel: general.id,
      text: "on it",
      thread_ts: parent?.ts,
      reply_broadcast: false,
    });
    const replies = await callTool(ada.client, "get_thread_replies", { channel: general.id, ts: parent?.ts });
    expect((replies.json as { messages: { text: string }[] }).messages.at(-1)?.text).toBe("on it");
  });

  test("post_message where the bot is not a member: Slack's not_in_channel as a tool error, key kept", async () => {
    const team = channelNamed(ada.ws, "team-01");
    const answer = await callTool(ada.client, "post_message", { channel: team.id, text: "hi" });
    expect(answer.isError).toBe(true);
    expect(answer.text).toContain("not_in_channel");
    const unknown = await callTool(ada.client, "post_message", { channel: "C0000000000", text: "hi" });
    expect(unknown.isError).toBe(true);
    expect(unknown.text).toContain("channel_not_found");
    expect((await instancesOf(ada.user))[0]?.status).toBe("active");
  });

  test("add_reaction: POST reactions.add with channel, timestamp and name; twice is already_reacted", async () => {
    const general = channelNamed(ada.ws, "general");
    const message = general.messages[0];
    const args = { channel: general.id, timestamp: message?.ts, name: "thumbsup" };
    const seen = await recorded(async () => {
      const answer = await callTool(ada.client, "add_reaction", args);
      expect(answer.isError).toBe(false);
      expect(answer.json).toEqual({ ok: true });
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: "POST", path: "/api/reactions.add", body: args });
    expectOnlyCredential(seen, "authorization", `Bearer ${ada.token}`);
    expect(message?.reactions).toEqual([{ name: "thumbsup", users: [ada.ws.userId], count: 1 }]);

    const again = await callTool(ada.client, "add_reaction", args);
    expect(again.isError).toBe(true);
    expect(again.text).toContain("already_reacted");
  });

  test("list_users: GET users.list with limit; pages to the end; profile fields kept", async () => {
    const seen = await recorded(async () => {
      const first = await callTool(ada.client, "list_users", { limit: 2 });
      const page1 = first.json as { members: Record<string, unknown>[]; nextCursor?: string };
      expect(page1.members).toHaveLength(2);
      const me = ada.ws.members[0];
      expect(page1.members[0]).toEqual({
        id: me?.id,
        name: me?.name,
        real_name: me?.real_name,
        deleted: false,
        is_bot: true,
        is_admin: false,
        tz: "Europe/Paris",
        profile: { display_name: me?.name, real_name: me?.real_name, title: "" },
      });
      expect(page1.members[1]).toMatchObject({ profile: { email: "ada-colleague@example.test" } });
      const second = await callTool(ada.client, "list_users", { limit: 2, cursor: page1.nextCursor });
      const page2 = second.json as { members: { id: string; deleted: boolean }[]; nextCursor?: string };
      expect(page2.members.map((m) => m.id)).toEqual([ada.ws.members[2]?.id ?? ""]);
      expect(page2.members[0]?.deleted).toBe(true);
      expect(page2.nextCursor).toBeUndefined();
    });
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatchObject({ method: "GET", path: "/api/users.list", query: { limit: "2" } });
    expect(seen[1]?.query.cursor).toBeString();
    // Without a limit Slack would send the whole workspace at once (or refuse): 200 a page is sent instead.
    const defaulted = await recorded(async () => {
      expect((await callTool(ada.client, "list_users")).isError).toBe(false);
    });
    expect(defaulted[0]?.query).toMatchObject({ limit: "200" });
  });

  test("get_user_info: GET users.info?user=; an unknown id is Slack's user_not_found", async () => {
    const colleague = ada.ws.members[1];
    const seen = await recorded(async () => {
      const answer = await callTool(ada.client, "get_user_info", { user: colleague?.id });
      expect(answer.isError).toBe(false);
      expect(answer.json).toMatchObject({
        user: {
          id: colleague?.id,
          team_id: ada.ws.teamId,
          name: colleague?.name,
          profile: { email: colleague?.email, title: "Designer", status_text: "" },
        },
      });
      expect(JSON.stringify(answer.json)).not.toContain("image_72");
    });
    expect(seen).toEqual([
      expect.objectContaining({ method: "GET", path: "/api/users.info", query: { user: colleague?.id } }),
    ]);
    const missing = await callTool(ada.client, "get_user_info", { user: "U0000000000" });
    expect(missing.isError).toBe(true);
    expect(missing.text).toContain("user_not_found");
  });

  test("search_messages with a bot token: Slack's not_allowed_token_type, and the key stays connected", async () => {
    const answer = await callTool(ada.client, "search_messages", { query: "release" });
    expect(answer.isError).toBe(true);
    expect(answer.text).toContain("not_allowed_token_type");
    expect((await instancesOf(ada.user))[0]?.status).toBe("active");
  });
});

describe("slack: user tokens", () => {
  test("search_messages: GET search.messages with query, count, page, sort, sort_dir", async () => {
    const grace = await connected("grace", "xoxp");
    const general = channelNamed(grace.ws, "general");
    const seen = await recorded(async () => {
      const answer = await callTool(grace.client, "search_messages", {
        query: "ship",
        count: 10,
        page: 1,
        sort: "timestamp",
        sort_dir: "desc",
      });
      expect(answer.isError).toBe(false);
      const result = answer.json as {
        query: string;
        messages: { total: number; paging: Record<string, number>; matches: Record<string, unknown>[] };
      };
      expect(result.query).toBe("ship");
      expect(result.messages.total).toBe(1);
      expect(result.messages.paging).toEqual({ count: 10, total: 1, page: 1, pages: 1 });
      const reply = general.replies.get(general.messages[1]?.ts ?? "")?.[0];
      expect(result.messages.matches).toEqual([
        {
          channel: { id: general.id, name: "general" },
          user: reply?.user,
          username: grace.ws.members[1]?.name,
          text: "ship on friday",
          ts: reply?.ts,
          permalink: expect.stringContaining(`/archives/${general.id}/p`),
        },
      ]);
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      method: "GET",
      path: "/api/search.messages",
      query: { query: "ship", count: "10", page: "1", sort: "timestamp", sort_dir: "desc" },
    });
    expectOnlyCredential(seen, "authorization", `Bearer ${grace.token}`);
  });
});

describe("slack: isolation, input and failures", () => {
  test("two users' calls each carry only their own token and see their own workspace", async () => {
    const [alice, bob] = await Promise.all([connected("alice"), connected("bob")]);
    const aliceSeen = await recorded(async () => {
      const answer = await callTool(alice.client, "list_channels", {});
      const general = (answer.json as { channels: { id: string; name: string }[] }).channels[0];
      expect(general?.id).toBe(channelNamed(alice.ws, "general").id);
      await callTool(alice.client, "get_user_info", { user: alice.ws.userId });
    });
    const bobSeen = await recorded(async () => {
      const answer = await callTool(bob.client, "list_channels", {});
      const general = (answer.json as { channels: { id: string; name: string }[] }).channels[0];
      expect(general?.id).toBe(channelNamed(bob.ws, "general").id);
      await callTool(bob.client, "post_message", {
        channel: channelNamed(bob.ws, "random").id,
        text: "bob here",
      });
    });
    expect(aliceSeen).toHaveLength(2);
    expect(bobSeen).toHaveLength(2);
    expectOnlyCredential(aliceSeen, "authorization", `Bearer ${alice.token}`);
    expectOnlyCredential(bobSeen, "authorization", `Bearer ${bob.token}`);
    // Bob's post landed in Bob's workspace only.
    expect(channelNamed(bob.ws, "random").messages.at(-1)?.text).toBe("bob here");
    expect(channelNamed(alice.ws, "random").messages).toEqual([]);
  });

  test("bad input is refused as invalid params and never reaches Slack", async () => {
    const { client, ws } = await connected("mallory");
    const general = channelNamed(ws, "general").id;
    const seen = await recorded(async () => {
      await expectInvalidParams(client, "get_channel_history", { channel: "../auth.test" });
      await expectInvalidParams(client, "get_channel_history", { channel: `${general}%2F..` });
      await expectInvalidParams(client, "get_channel_history", {});
      await expectInvalidParams(client, "get_thread_replies", { channel: general, ts: "yesterday" });
      await expectInvalidParams(client, "post_message", { channel: general });
      await expectInvalidParams(client, "post_message", { channel: "#general", text: "hi" });
      await expectInvalidParams(client, "post_message", {
        channel: general,
        text: "hi",
        token: "xoxb-other",
      });
      await expectInvalidParams(client, "add_reaction", {
        channel: general,
        timestamp: "1712345678.000000",
        name: ":+1:",
      });
      await expectInvalidParams(client, "get_user_info", { user: "U123&user=U456" });
      await expectInvalidParams(client, "list_channels", { types: ["everything"] });
      await expectInvalidParams(client, "list_channels", { limit: 5000 });
      await expectInvalidParams(client, "list_channels", { cursor: "not-a-cursor" });
      await expectInvalidParams(client, "search_messages", { query: "" });
    });
    expect(seen).toEqual([]);
  });

  test("a token revoked upstream: the tool error says to reconnect and the instance needs re-auth", async () => {
    const { user, client, token, ws } = await connected("revoked");
    fake.revokeKey(token);
    const seen = await recorded(async () => {
      const answer = await callTool(client, "get_user_info", { user: ws.userId });
      expect(answer.isError).toBe(true);
      expect(answer.text).toContain("Reconnect Slack");
      expect(answer.text).not.toContain(token);
    });
    // The refused call, then auth.test re-checking the key before the instance is marked.
    expect(seen.map((r) => r.path)).toEqual(["/api/users.info", "/api/auth.test"]);
    expectOnlyCredential(seen, "authorization", `Bearer ${token}`);
    expect((await instancesOf(user))[0]?.status).toBe("needs_reauth");
  });

  test("Slack's 429 with Retry-After: a rate-limited tool error, and the next call waits without reaching Slack", async () => {
    const { client, ws } = await connected("busy");
    const general = channelNamed(ws, "general").id;
    fake.answerNext(() => json({ ok: false, error: "ratelimited" }, 429, { "Retry-After": "17" }));
    const limited = await callTool(client, "get_channel_history", { channel: general });
    expect(limited.isError).toBe(true);
    expect(limited.text).toContain("retry after 17 seconds");
    expect(limited.meta?.retryAfterSeconds).toBe(17);

    const seen = await recorded(async () => {
      const again = await callTool(client, "post_message", { channel: general, text: "still there?" });
      expect(again.isError).toBe(true);
      expect(again.text).toMatch(/retry after 1[0-7] seconds/);
    });
    expect(seen).toEqual([]);
  });

  test("missing_scope is a tool error naming it, not a reason to reconnect", async () => {
    const { user, client, ws } = await connected("scoped");
    fake.answerNext(() =>
      json({ ok: false, error: "missing_scope", needed: "reactions:write", provided: "chat:write" }),
    );
    const general = channelNamed(ws, "general");
    const answer = await callTool(client, "add_reaction", {
      channel: general.id,
      timestamp: general.messages[0]?.ts,
      name: "eyes",
    });
    expect(answer.isError).toBe(true);
    expect(answer.text).toContain("missing_scope");
    expect(answer.text).not.toContain("Reconnect");
    expect((await instancesOf(user))[0]?.status).toBe("active");
  });

  test("a ratelimited error inside a 200 body is a rate-limited tool error too", async () => {
    const { client, ws } = await connected("busy-body");
    fake.answerNext(() => json({ ok: false, error: "ratelimited" }));
    const answer = await callTool(client, "list_users", {});
    expect(answer.isError).toBe(true);
    expect(answer.text).toContain("rate limiting");
    expect(ws.members.length).toBeGreaterThan(0);
  });
});
