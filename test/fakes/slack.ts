// A fake Slack Web API (https://slack.com/api/<method>) for the Slack service suite, shaped like the
// documented methods: `Authorization: Bearer <token>`, arguments from the query string (GET) or a JSON /
// form body (POST), failures as HTTP 200 `{ "ok": false, "error": "<code>" }`, cursor pagination through
// `response_metadata.next_cursor` (empty when there are no more), and a 429 with `Retry-After` for rate limits.
// Every accepted token has its own small workspace, so two users' tokens see different data.
import { type FakeUpstream, json, type RecordedUpstreamRequest, startFakeUpstream } from "./upstream.ts";

export interface FakeSlackMessage {
  type: "message";
  user: string;
  text: string;
  ts: string;
  thread_ts?: string;
  reply_count?: number;
  reply_users?: string[];
  latest_reply?: string;
  parent_user_id?: string;
  subtype?: string;
  reactions?: { name: string; users: string[]; count: number }[];
}

export interface FakeSlackChannel {
  id: string;
  name: string;
  is_private: boolean;
  is_archived: boolean;
  is_member: boolean;
  is_general: boolean;
  created: number;
  topic: string;
  purpose: string;
  /** Top-level messages (thread parents included), oldest first. */
  messages: FakeSlackMessage[];
  /** Replies by their parent's ts, oldest first. */
  replies: Map<string, FakeSlackMessage[]>;
}

export interface FakeSlackMember {
  id: string;
  name: string;
  real_name: string;
  email: string;
  title: string;
  is_bot: boolean;
  is_admin: boolean;
  deleted: boolean;
}

export interface FakeSlackWorkspace {
  teamId: string;
  team: string;
  /** The token's own user (a bot user for xoxb- tokens). */
  userId: string;
  user: string;
  botId?: string;
  channels: FakeSlackChannel[];
  members: FakeSlackMember[];
}

export interface FakeSlack {
  /** The fake's Web API base URL (`…/api`), for SERVICE_SLACK_BASE_URL. */
  apiUrl: string;
  requests: RecordedUpstreamRequest[];
  /** Accepts `token` (xoxb- = bot token, xoxp- = user token) with a fresh workspace named after `who`. */
  addKey(token: string, who: string): FakeSlackWorkspace;
  /** The token is revoked upstream: every call answers `token_revoked` from then on. */
  revokeKey(token: string): void;
  workspace(token: string): FakeSlackWorkspace | undefined;
  /** Answer the next request (still recorded) with this instead. */
  answerNext(response: () => Response): void;
  stop(): void;
}

/** A Slack-style id: the kind letter and 10 upper-case letters/digits. */
export function slackId(kind: "C" | "G" | "D" | "U" | "T" | "B"): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(10));
  return kind + [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
}

const BASE_TS = 1_712_345_678;
const ts = (seconds: number, micro = 0) => `${BASE_TS + seconds}.${String(micro).padStart(6, "0")}`;

function channel(name: string, opts: Partial<FakeSlackChannel> = {}): FakeSlackChannel {
  return {
    id: slackId(opts.is_private ? "G" : "C"),
    name,
    is_private: false,
    is_archived: false,
    is_member: false,
    is_general: false,
    created: BASE_TS - 86_400,
    topic: "",
    purpose: "",
    messages: [],
    replies: new Map(),
    ...opts,
  };
}

/** A workspace: #general (with a thread), #random, a private #design, an archived #old-project, and five
 * #team-0N channels the bot is not in; three human members and the bot. */
function seedWorkspace(who: string, bot: boolean): FakeSlackWorkspace {
  const userId = slackId("U");
  const colleague = slackId("U");
  const other = slackId("U");
  const members: FakeSlackMember[] = [
    {
      id: userId,
      name: bot ? `${who}-bot` : who,
      real_name: bot ? `${who} bot` : `${who} Example`,
      email: bot ? "" : `${who}@example.test`,
      title: bot ? "" : "Engineer",
      is_bot: bot,
      is_admin: !bot,
      deleted: false,
    },
    {
      id: colleague,
      name: `${who}-colleague`,
      real_name: `Colleague of ${who}`,
      email: `${who}-colleague@example.test`,
      title: "Designer",
      is_bot: false,
      is_admin: false,
      deleted: false,
    },
    {
      id: other,
      name: `${who}-former`,
      real_name: `Former of ${who}`,
      email: `${who}-former@example.test`,
      title: "",
      is_bot: false,
      is_admin: false,
      deleted: true,
    },
  ];
  const general = channel("general", { is_general: true, is_member: true, topic: `${who}'s workspace` });
  const parentTs = ts(10);
  general.messages.push(
    { type: "message", user: colleague, text: `welcome to ${who}'s workspace`, ts: ts(0) },
    {
      type: "message",
      user: colleague,
      text: "release plan?",
      ts: parentTs,
      thread_ts: parentTs,
      reply_count: 2,
      reply_users: [colleague, other],
      latest_reply: ts(30),
    },
    { type: "message", user: other, text: "lunch at noon", ts: ts(40) },
  );
  general.replies.set(parentTs, [
    {
      type: "message",
      user: colleague,
      text: "ship on friday",
      ts: ts(20),
      thread_ts: parentTs,
      parent_user_id: colleague,
    },
    {
      type: "message",
      user: other,
      text: "agreed",
      ts: ts(30),
      thread_ts: parentTs,
      parent_user_id: colleague,
    },
  ]);
  const channels = [
    general,
    channel("random", { is_member: true, purpose: "anything goes" }),
    channel("design", { is_private: true, is_member: true }),
    channel("old-project", { is_archived: true }),
    ...[1, 2, 3, 4, 5].map((n) => channel(`team-0${n}`)),
  ];
  return {
    teamId: slackId("T"),
    team: `${who} workspace`,
    userId,
    user: members[0]?.name ?? who,
    botId: bot ? slackId("B") : undefined,
    channels,
    members,
  };
}

const ok = (body: Record<string, unknown> = {}) => json({ ok: true, ...body });
const fail = (error: string, extra: Record<string, unknown> = {}) => json({ ok: false, error, ...extra });

/** Slack's opaque cursors are base64 (e.g. `dXNlcjpVMDYxTkZUVDI=`); here of an offset into the list. */
const encodeCursor = (offset: number) => Buffer.from(`offset:${offset}`).toString("base64");
function decodeCursor(cursor: string | undefined): number | undefined | "invalid" {
  if (cursor === undefined || cursor === "") return undefined;
  const match = /^offset:([0-9]+)$/.exec(Buffer.from(cursor, "base64").toString("utf8"));
  return match ? Number(match[1]) : "invalid";
}

/** One page of `items` from `args.cursor`/`args.limit`, with Slack's `response_metadata`. */
/**
 * A page of `items`. Without `limit` Slack uses the method's own default: `conversations.replies` 1,000,
 * `users.list` none at all ("all": "Providing no limit value will result in Slack attempting to deliver you the
 * entire result set", its method spec).
 */
function page<T>(
  items: T[],
  args: Record<string, unknown>,
  defaultLimit: number | "all",
  maxLimit: number,
): { items: T[]; more: boolean; response_metadata: { next_cursor: string } } | Response {
  const offset = decodeCursor(args.cursor === undefined ? undefined : String(args.cursor));
  if (offset === "invalid") return fail("invalid_cursor");
  if (args.limit === undefined && defaultLimit === "all") {
    return { items: items.slice(offset ?? 0), more: false, response_metadata: { next_cursor: "" } };
  }
  const limit = args.limit === undefined && defaultLimit !== "all" ? defaultLimit : Number(args.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) return fail("invalid_limit");
  const start = offset ?? 0;
  const end = start + limit;
  const more = end < items.length;
  return {
    items: items.slice(start, end),
    more,
    response_metadata: { next_cursor: more ? encodeCursor(end) : "" },
  };
}

const truthy = (v: unknown) => v === true || v === "true" || v === "1" || v === 1;

function channelJson(c: FakeSlackChannel) {
  return {
    id: c.id,
    name: c.name,
    is_channel: !c.is_private,
    is_group: c.is_private,
    is_im: false,
    is_mpim: false,
    is_private: c.is_private,
    created: c.created,
    is_archived: c.is_archived,
    is_general: c.is_general,
    unlinked: 0,
    name_normalized: c.name,
    is_shared: false,
    is_org_shared: false,
    is_member: c.is_member,
    is_ext_shared: false,
    topic: { value: c.topic, creator: "", last_set: 0 },
    purpose: { value: c.purpose, creator: "", last_set: 0 },
    previous_names: [],
    num_members: c.is_member ? 4 : 3,
  };
}

function memberJson(m: FakeSlackMember, teamId: string) {
  return {
    id: m.id,
    team_id: teamId,
    name: m.name,
    deleted: m.deleted,
    color: "9f69e7",
    real_name: m.real_name,
    tz: "Europe/Paris",
    tz_label: "Central European Time",
    tz_offset: 3600,
    profile: {
      title: m.title,
      phone: "",
      real_name: m.real_name,
      real_name_normalized: m.real_name,
      display_name: m.name,
      display_name_normalized: m.name,
      status_text: "",
      status_emoji: "",
      ...(m.email && { email: m.email }),
      image_72: `https://avatars.slack-edge.example/${m.id}_72.png`,
      team: teamId,
    },
    is_admin: m.is_admin,
    is_owner: false,
    is_primary_owner: false,
    is_restricted: false,
    is_ultra_restricted: false,
    is_bot: m.is_bot,
    is_app_user: false,
    updated: BASE_TS,
  };
}

/** Messages between `oldest` and `latest` (exclusive unless `inclusive`), as conversations.* filter them. */
function inWindow(messages: FakeSlackMessage[], args: Record<string, unknown>): FakeSlackMessage[] {
  const oldest = args.oldest === undefined ? 0 : Number(args.oldest);
  const latest = args.latest === undefined ? Number.POSITIVE_INFINITY : Number(args.latest);
  const inclusive = truthy(args.inclusive);
  return messages.filter((m) => {
    const t = Number(m.ts);
    return inclusive ? t >= oldest && t <= latest : t > oldest && t < latest;
  });
}

function findChannel(ws: FakeSlackWorkspace, id: unknown): FakeSlackChannel | undefined {
  return ws.channels.find((c) => c.id === id);
}

/** Starts the fake Slack Web API on 127.0.0.1. */
export async function startSlackFake(): Promise<FakeSlack & { upstream: FakeUpstream }> {
  const workspaces = new Map<string, FakeSlackWorkspace>();
  const revoked = new Set<string>();
  let clock = 1000;

  const methods: Record<
    string,
    (ws: FakeSlackWorkspace, args: Record<string, unknown>, token: string) => Response
  > = {
    "auth.test": (ws) =>
      ok({
        url: `https://${ws.teamId.toLowerCase()}.slack.com/`,
        team: ws.team,
        user: ws.user,
        team_id: ws.teamId,
        user_id: ws.userId,
        ...(ws.botId && { bot_id: ws.botId }),
        is_enterprise_install: false,
      }),

    "conversations.list": (ws, args) => {
      const types = String(args.types ?? "public_channel").split(",");
      const known = ["public_channel", "private_channel", "mpim", "im"];
      if (types.some((t) => !known.includes(t))) return fail("invalid_types");
      const listed = ws.channels.filter(
        (c) =>
          (c.is_private ? types.includes("private_channel") : types.includes("public_channel")) &&
          !(truthy(args.exclude_archived) && c.is_archived),
      );
      const p = page(listed, args, 100, 1000);
      if (p instanceof Response) return p;
      return ok({ channels: p.items.map(channelJson), response_metadata: p.response_metadata });
    },

    "conversations.history": (ws, args) => {
      const c = findChannel(ws, args.channel);
      if (!c) return fail("channel_not_found");
      if (!c.is_member) return fail("not_in_channel");
      // Newest first, as Slack returns them.
      const messages = inWindow(c.messages, args).slice().reverse();
      const p = page(messages, args, 100, 999);
      if (p instanceof Response) return p;
      return ok({
        messages: p.items,
        has_more: p.more,
        pin_count: 0,
        channel_actions_ts: null,
        channel_actions_count: 0,
        ...(p.more && { response_metadata: p.response_metadata }),
      });
    },

    "conversations.replies": (ws, args) => {
      const c = findChannel(ws, args.channel);
      if (!c) return fail("channel_not_found");
      if (!c.is_member) return fail("not_in_channel");
      const parent = c.messages.find((m) => m.ts === args.ts);
      if (!parent) return fail("thread_not_found");
      const thread = [parent, ...inWindow(c.replies.get(parent.ts) ?? [], args)];
      const p = page(thread, args, 1000, 1000);
      if (p instanceof Response) return p;
      return ok({ messages: p.items, has_more: p.more, response_metadata: p.response_metadata });
    },

    "chat.postMessage": (ws, args) => {
      const c = findChannel(ws, args.channel);
      if (!c) return fail("channel_not_found");
      if (c.is_archived) return fail("is_archived");
      if (!c.is_member) return fail("not_in_channel");
      if (typeof args.text !== "string" || args.text === "") return fail("no_text");
      if (args.text.length > 40_000) return fail("msg_too_long");
      clock += 1;
      const message: FakeSlackMessage & { bot_id?: string; app_id?: string } = {
        type: "message",
        user: ws.userId,
        text: args.text,
        ts: ts(clock, clock),
        ...(ws.botId && { bot_id: ws.botId, app_id: "A0FAKEAPP01" }),
      };
      if (args.thread_ts !== undefined) {
        const parent = c.messages.find((m) => m.ts === args.thread_ts);
        if (!parent) return fail("thread_not_found");
        message.thread_ts = parent.ts;
        message.parent_user_id = parent.user;
        const replies = c.replies.get(parent.ts) ?? [];
        replies.push(message);
        c.replies.set(parent.ts, replies);
        parent.thread_ts = parent.ts;
        parent.reply_count = replies.length;
        parent.latest_reply = message.ts;
        if (truthy(args.reply_broadcast)) c.messages.push({ ...message, subtype: "thread_broadcast" });
      } else {
        c.messages.push(message);
      }
      return ok({ channel: c.id, ts: message.ts, message });
    },

    "reactions.add": (ws, args) => {
      const c = findChannel(ws, args.channel);
      if (!c) return fail("channel_not_found");
      if (typeof args.name !== "string" || typeof args.timestamp !== "string")
        return fail("no_item_specified");
      const all = [...c.messages, ...[...c.replies.values()].flat()];
      const message = all.find((m) => m.ts === args.timestamp);
      if (!message) return fail("message_not_found");
      if (!/^[a-z0-9_+'-]+(::skin-tone-[2-6])?$/.test(args.name)) return fail("invalid_name");
      message.reactions ??= [];
      const reaction = message.reactions.find((r) => r.name === args.name);
      if (reaction?.users.includes(ws.userId)) return fail("already_reacted");
      if (reaction) {
        reaction.users.push(ws.userId);
        reaction.count += 1;
      } else {
        message.reactions.push({ name: args.name, users: [ws.userId], count: 1 });
      }
      return ok();
    },

    "users.list": (ws, args) => {
      const p = page(ws.members, args, "all", 1000);
      if (p instanceof Response) return p;
      return ok({
        members: p.items.map((m) => memberJson(m, ws.teamId)),
        cache_ts: BASE_TS,
        response_metadata: p.response_metadata,
      });
    },

    "users.info": (ws, args) => {
      const m = ws.members.find((u) => u.id === args.user);
      return m ? ok({ user: memberJson(m, ws.teamId) }) : fail("user_not_found");
    },

    "search.messages": (ws, args, token) => {
      if (!token.startsWith("xoxp-")) return fail("not_allowed_token_type");
      const query = typeof args.query === "string" ? args.query.trim() : "";
      if (query === "") return fail("no_query");
      const count = args.count === undefined ? 20 : Number(args.count);
      const pageNo = args.page === undefined ? 1 : Number(args.page);
      const matches = ws.channels
        .flatMap((c) =>
          [...c.messages, ...[...c.replies.values()].flat()]
            .filter((m) => m.text.toLowerCase().includes(query.toLowerCase()))
            .map((m) => ({
              iid: crypto.randomUUID(),
              team: ws.teamId,
              channel: { id: c.id, name: c.name, is_private: c.is_private, is_channel: !c.is_private },
              type: "message",
              user: m.user,
              username: ws.members.find((u) => u.id === m.user)?.name ?? "",
              ts: m.ts,
              text: m.text,
              permalink: `https://${ws.teamId.toLowerCase()}.slack.com/archives/${c.id}/p${m.ts.replace(".", "")}`,
            })),
        )
        .sort((a, b) => Number(b.ts) - Number(a.ts));
      const pages = Math.max(1, Math.ceil(matches.length / count));
      return ok({
        query,
        messages: {
          total: matches.length,
          pagination: {
            total_count: matches.length,
            page: pageNo,
            per_page: count,
            page_count: pages,
            first: (pageNo - 1) * count + 1,
            last: Math.min(pageNo * count, matches.length),
          },
          paging: { count, total: matches.length, page: pageNo, pages },
          matches: matches.slice((pageNo - 1) * count, pageNo * count),
        },
      });
    },
  };

  // Slack accepts a JSON body without a charset but says so in a warning (the call still succeeds).
  async function withCharsetWarning(answer: Response, req: RecordedUpstreamRequest): Promise<Response> {
    const type = req.headers["content-type"] ?? "";
    if (!type.startsWith("application/json") || /charset=/i.test(type)) return answer;
    const body = (await answer.json()) as Record<string, unknown>;
    if (body.ok !== true) return json(body, answer.status);
    return json({
      ...body,
      warning: "missing_charset",
      response_metadata: { warnings: ["missing_charset"] },
    });
  }

  function argsOf(req: RecordedUpstreamRequest): Record<string, unknown> {
    const body =
      typeof req.body === "object" && req.body !== null ? (req.body as Record<string, unknown>) : {};
    return { ...req.query, ...body };
  }

  const upstream = await startFakeUpstream((req) => {
    const match = /^\/api\/([a-zA-Z]+\.[a-zA-Z.]+)$/.exec(req.path);
    const method = match?.[1] ?? "";
    const handler = methods[method];
    if (!handler) return json({ ok: false, error: "unknown_method", req_method: method }, 404);
    if (req.method !== "GET" && req.method !== "POST") return fail("method_not_supported");
    const auth = req.headers.authorization;
    const token = auth?.startsWith("Bearer ") ? auth.slice("Bearer ".length) : undefined;
    if (!token) return fail("not_authed");
    if (revoked.has(token)) return fail("token_revoked");
    const ws = workspaces.get(token);
    if (!ws) return fail("invalid_auth");
    const answer = handler(ws, argsOf(req), token);
    return req.method === "POST" ? withCharsetWarning(answer, req) : answer;
  });

  return {
    upstream,
    apiUrl: `${upstream.url}/api`,
    requests: upstream.requests,
    addKey(token, who) {
      const ws = seedWorkspace(who, token.startsWith("xoxb-"));
      workspaces.set(token, ws);
      return ws;
    },
    revokeKey: (token) => void revoked.add(token),
    workspace: (token) => workspaces.get(token),
    answerNext: (response) => upstream.answerNext(response),
    stop: () => upstream.stop(),
  };
}
