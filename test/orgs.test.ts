// Organisations: the personal one every account starts with, shared ones with roles, single-use expiring
// invitations (only their hash stored), instances per user within an organisation, what owners and admins
// see and do (members' instances, audit, usage; never credentials), the last owner kept, cross-organisation
// access refused as if the organisation did not exist, and API keys bound to their organisation.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appRouter } from "@mcp/control-plane/router";
import { MAX_KEYS_PER_USER, MAX_ORGS_PER_USER, MAX_PENDING_INVITATIONS } from "@mcp/core";
import { apiKeys, auditEvents, instances, orgInvitations, orgMembers } from "@mcp/db";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { and, eq } from "drizzle-orm";
import {
  type Auth,
  connectFigma,
  data,
  expectInstanceDead,
  expectRestError,
  expectTrpcError,
  figmaKeyFor,
  newUser,
  rest,
  type TestUser,
  type TrpcAnswer,
  trpc,
} from "./client.ts";
import { type Stack, startStack } from "./harness.ts";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

interface Org {
  orgId: string;
  name: string;
  personal: boolean;
  role: string;
}
interface Invitation {
  invitationId: string;
  token: string;
  invitePath: string;
  expiresAt: string;
}

const as = (user: TestUser, orgId?: string): Auth => ({ cookie: user.cookie, orgId });

async function createOrg(owner: TestUser, name = "Acme"): Promise<string> {
  return data<Org>(await trpc(stack, "orgs.create", { name }, as(owner))).orgId;
}

async function invite(by: TestUser, orgId: string, role = "member"): Promise<Invitation> {
  return data<Invitation>(await trpc(stack, "orgs.invite", { orgId, role }, as(by)));
}

async function join(user: TestUser, orgId: string, token: string): Promise<TrpcAnswer> {
  return trpc(stack, "orgs.acceptInvitation", { orgId, token }, as(user));
}

/** An organisation owned by a new user, with `members` more who joined through invitations. */
async function team(members: { role?: "admin" | "member" }[] = [{}]) {
  const owner = await newUser(stack);
  const orgId = await createOrg(owner);
  const joined: TestUser[] = [];
  for (const m of members) {
    const user = await newUser(stack);
    const inv = await invite(owner, orgId, m.role ?? "member");
    data(await join(user, orgId, inv.token));
    joined.push(user);
  }
  return { owner, orgId, members: joined };
}

async function toolsListOk(instanceUrl: string): Promise<void> {
  const res = await fetch(instanceUrl, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2025-06-18",
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
  });
  expect(res.status).toBe(200);
}

const membersOf = async (user: TestUser, orgId: string) =>
  data<{ userId: string; role: string }[]>(await trpc(stack, "orgs.members", { orgId }, as(user)));

describe("the personal organisation", () => {
  test("every new account has one, as owner; it takes no members and cannot be left", async () => {
    const user = await newUser(stack);
    const orgs = data<Org[]>(await trpc(stack, "orgs.list", undefined, as(user)));
    expect(orgs).toEqual([expect.objectContaining({ personal: true, role: "owner", name: "Personal" })]);
    const personal = orgs[0]?.orgId ?? "";
    expectTrpcError(
      await trpc(stack, "orgs.invite", { orgId: personal, role: "member" }, as(user)),
      400,
      "BAD_REQUEST",
    );
    expectTrpcError(await trpc(stack, "orgs.leave", { orgId: personal }, as(user)), 400, "BAD_REQUEST");
    // Instances connected without X-Org-Id live in it.
    const issued = await connectFigma(stack, user, figmaKeyFor(stack, "personal"));
    const [row] = await stack.platform.deps.db
      .select({ orgId: instances.orgId })
      .from(instances)
      .where(eq(instances.id, issued.instanceId));
    expect(row?.orgId).toBe(personal);
    // Naming it explicitly is the same.
    const listed = data<{ instanceId: string }[]>(
      await trpc(stack, "instances.list", undefined, as(user, personal)),
    );
    expect(listed.map((i) => i.instanceId)).toEqual([issued.instanceId]);
  });
});

describe("invitations", () => {
  test("single use, shown once, only the hash stored; the invitee joins with the invited role", async () => {
    const owner = await newUser(stack);
    const orgId = await createOrg(owner);
    const inv = await invite(owner, orgId, "admin");
    expect(inv.token).toMatch(/^inv_[A-Za-z0-9_-]{43}$/);
    expect(inv.invitePath).toBe(`/invite/${orgId}/${inv.token}`);
    // Listed without the token; stored as its hash only.
    const listed = await trpc(stack, "orgs.invitations", { orgId }, as(owner));
    expect(JSON.stringify(listed.body)).not.toContain(inv.token);
    expect(data<{ invitationId: string }[]>(listed).map((i) => i.invitationId)).toEqual([inv.invitationId]);
    const rows = await stack.platform.deps.db
      .select()
      .from(orgInvitations)
      .where(eq(orgInvitations.orgId, orgId));
    expect(JSON.stringify(rows)).not.toContain(inv.token.slice(4));

    const invitee = await newUser(stack);
    const joined = data<Org>(await join(invitee, orgId, inv.token));
    expect(joined).toMatchObject({ orgId, role: "admin", personal: false });
    expect((await membersOf(owner, orgId)).map((m) => m.role)).toEqual(["owner", "admin"]);

    // Reused: by someone else, or by the same user → 409; nobody else joined.
    const late = await newUser(stack);
    expectTrpcError(await join(late, orgId, inv.token), 409, "CONFLICT");
    expectTrpcError(await join(invitee, orgId, inv.token), 409, "CONFLICT");
    expect(await membersOf(owner, orgId)).toHaveLength(2);
    // No longer pending.
    expect(data<unknown[]>(await trpc(stack, "orgs.invitations", { orgId }, as(owner)))).toEqual([]);
  });

  test("expired → 400, revoked or unknown or malformed → 404, for another organisation → 404; nothing joined", async () => {
    const { owner, orgId } = await team([]);
    const otherOrg = await createOrg(owner, "Other");
    const user = await newUser(stack);

    const expired = await invite(owner, orgId);
    await stack.platform.deps.db
      .update(orgInvitations)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(orgInvitations.id, expired.invitationId));
    expectTrpcError(await join(user, orgId, expired.token), 400, "BAD_REQUEST");

    const revoked = await invite(owner, orgId);
    data(
      await trpc(stack, "orgs.revokeInvitation", { orgId, invitationId: revoked.invitationId }, as(owner)),
    );
    expectTrpcError(await join(user, orgId, revoked.token), 404, "NOT_FOUND");
    // Revoking twice: nothing pending to revoke.
    expectTrpcError(
      await trpc(stack, "orgs.revokeInvitation", { orgId, invitationId: revoked.invitationId }, as(owner)),
      404,
      "NOT_FOUND",
    );

    const good = await invite(owner, orgId);
    expectTrpcError(await join(user, otherOrg, good.token), 404, "NOT_FOUND");
    expectTrpcError(await join(user, orgId, `inv_${"A".repeat(43)}`), 404, "NOT_FOUND");
    expectTrpcError(await join(user, orgId, "not-a-token"), 404, "NOT_FOUND");
    expectTrpcError(await join(user, "not-an-org", good.token), 400, "BAD_REQUEST");

    expect((await membersOf(owner, orgId)).map((m) => m.userId)).toEqual([owner.userId]);
    expect((await membersOf(owner, otherOrg)).map((m) => m.userId)).toEqual([owner.userId]);
    // The good one still works afterwards, once.
    data(await join(user, orgId, good.token));
    expect(await membersOf(owner, orgId)).toHaveLength(2);
  });

  test("one user accepting two invitations at once, or one invitation used by two users at once: one joins", async () => {
    const { owner, orgId } = await team([]);
    const user = await newUser(stack);
    const [a, b] = await Promise.all([invite(owner, orgId), invite(owner, orgId)]);
    const both = await Promise.all([join(user, orgId, a?.token ?? ""), join(user, orgId, b?.token ?? "")]);
    expect(both.map((r) => r.status).sort()).toEqual([200, 409]);
    const shared = await invite(owner, orgId);
    const [x, y] = [await newUser(stack), await newUser(stack)];
    const raced = await Promise.all([join(x, orgId, shared.token), join(y, orgId, shared.token)]);
    expect(raced.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(await membersOf(owner, orgId)).toHaveLength(3);
  });

  test("an admin's unused invitations die with their standing: removed, demoted or gone, nobody joins with them", async () => {
    const { owner, orgId, members } = await team([{ role: "admin" }, { role: "admin" }, { role: "admin" }]);
    const [removed, demoted, leaving] = members as [TestUser, TestUser, TestUser];
    // Each admin makes an invitation (one of them for an admin) and keeps the link.
    const byRemoved = await invite(removed, orgId, "admin");
    const byDemoted = await invite(demoted, orgId, "member");
    const byLeaving = await invite(leaving, orgId, "admin");
    const byOwner = await invite(owner, orgId, "member");
    data(await trpc(stack, "orgs.removeMember", { orgId, userId: removed.userId }, as(owner)));
    data(await trpc(stack, "orgs.setRole", { orgId, userId: demoted.userId, role: "member" }, as(owner)));
    data(await trpc(stack, "orgs.leave", { orgId }, as(leaving)));
    // The removed admin cannot walk back in with their own link, nor can anyone else use the dead ones.
    expectTrpcError(await join(removed, orgId, byRemoved.token), 404, "NOT_FOUND");
    for (const dead of [byDemoted, byLeaving]) {
      expectTrpcError(await join(await newUser(stack), orgId, dead.token), 404, "NOT_FOUND");
    }
    // Only the owner's is still pending; the others are revoked, not merely refused.
    const pending = data<{ invitationId: string }[]>(
      await trpc(stack, "orgs.invitations", { orgId }, as(owner)),
    );
    expect(pending.map((i) => i.invitationId)).toEqual([byOwner.invitationId]);
    const rows = await stack.platform.deps.db
      .select()
      .from(orgInvitations)
      .where(eq(orgInvitations.orgId, orgId));
    for (const dead of [byRemoved, byDemoted, byLeaving]) {
      expect(rows.find((r) => r.id === dead.invitationId)?.revokedAt).toBeInstanceOf(Date);
    }
    expect((await membersOf(owner, orgId)).map((m) => [m.userId, m.role])).toEqual([
      [owner.userId, "owner"],
      [demoted.userId, "member"],
    ]);
    // Belt and braces: an invitation whose inviter is no longer an admin is refused even if it was not revoked
    // (made just before a demotion committed, say).
    const raced = await invite(owner, orgId, "member");
    const second = (await team([])).owner;
    data(await trpc(stack, "orgs.setRole", { orgId, userId: demoted.userId, role: "admin" }, as(owner)));
    const late = await invite(demoted, orgId, "member");
    await stack.platform.deps.db
      .update(orgMembers)
      .set({ role: "member" })
      .where(and(eq(orgMembers.orgId, orgId), eq(orgMembers.userId, demoted.userId)));
    expectTrpcError(await join(second, orgId, late.token), 404, "NOT_FOUND");
    data(await join(second, orgId, raced.token));
    // The removal and the demotion say how many invitations went with them.
    const events = await stack.platform.deps.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.orgId, orgId));
    const detail = (action: string) => events.find((e) => e.action === action)?.detail;
    expect(detail("org.member_remove")).toMatchObject({ revokedInvitations: 1 });
    expect(detail("org.leave")).toMatchObject({ revokedInvitations: 1 });
    expect(events.some((e) => e.action === "org.role_change" && e.detail?.revokedInvitations === 1)).toBe(
      true,
    );
  });

  test("members cannot invite; an API key cannot accept; a key cannot invite to another organisation", async () => {
    const { owner, orgId, members } = await team([{}]);
    const member = members[0] as TestUser;
    expectTrpcError(
      await trpc(stack, "orgs.invite", { orgId, role: "member" }, as(member)),
      403,
      "FORBIDDEN",
    );
    const inv = await invite(owner, orgId);
    const key = data<{ key: string }>(await trpc(stack, "apiKeys.create", { name: "k" }, as(member))).key;
    expectTrpcError(
      await trpc(stack, "orgs.acceptInvitation", { orgId, token: inv.token }, { apiKey: key }),
      403,
      "FORBIDDEN",
    );
    const ownerKey = data<{ key: string }>(await trpc(stack, "apiKeys.create", { name: "k" }, as(owner))).key;
    // The owner's key is bound to the owner's personal organisation: Acme is not its to manage.
    expectTrpcError(
      await trpc(stack, "orgs.invite", { orgId, role: "member" }, { apiKey: ownerKey }),
      404,
      "NOT_FOUND",
    );
    expect(data<unknown[]>(await trpc(stack, "orgs.invitations", { orgId }, as(owner)))).toHaveLength(1);
  });
});

describe("instances within an organisation", () => {
  test("one instance per user and service in each organisation, each with its own URL and credential", async () => {
    const { owner, orgId, members } = await team([{}]);
    const member = members[0] as TestUser;
    const inOrg = await connectFigma(stack, member, figmaKeyFor(stack, "work"), orgId);
    const personal = await connectFigma(stack, member, figmaKeyFor(stack, "home"));
    expect(inOrg.instanceId).not.toBe(personal.instanceId);
    expect(inOrg.instanceUrl).not.toBe(personal.instanceUrl);
    const list = async (auth: Auth) =>
      data<{ instanceId: string }[]>(await trpc(stack, "instances.list", undefined, auth)).map(
        (i) => i.instanceId,
      );
    expect(await list(as(member, orgId))).toEqual([inOrg.instanceId]);
    expect(await list(as(member))).toEqual([personal.instanceId]);
    // The owner sees no instance of their own there, but sees the member's through the admin view.
    expect(await list(as(owner, orgId))).toEqual([]);
    const seen = await trpc(stack, "orgs.memberInstances", { orgId }, as(owner));
    expect(data<{ instanceId: string; userId: string }[]>(seen)).toEqual([
      expect.objectContaining({ instanceId: inOrg.instanceId, userId: member.userId, email: member.email }),
    ]);
    // Never a URL, token or credential.
    const text = JSON.stringify(seen.body);
    expect(text).not.toContain("mcp_");
    expect(text).not.toContain(new URL(inOrg.instanceUrl).pathname.split("/")[1] ?? "mcp_");
    expect(text).not.toContain("figd_");
    // Revoking in one organisation leaves the other.
    data(await trpc(stack, "instances.revoke", { serviceType: "figma" }, as(member, orgId)));
    await expectInstanceDead(stack, inOrg.instanceUrl);
    await toolsListOk(personal.instanceUrl);
  });

  test("an admin revokes a member's instance; a member cannot; another organisation's instance is not found", async () => {
    const { owner, orgId, members } = await team([{ role: "admin" }, {}]);
    const [admin, member] = members as [TestUser, TestUser];
    const issued = await connectFigma(stack, member, figmaKeyFor(stack, "m"), orgId);
    const other = await team([]);
    const foreign = await connectFigma(stack, other.owner, figmaKeyFor(stack, "f"), other.orgId);

    expectTrpcError(
      await trpc(stack, "orgs.revokeMemberInstance", { orgId, instanceId: issued.instanceId }, as(member)),
      403,
      "FORBIDDEN",
    );
    expectTrpcError(await trpc(stack, "orgs.memberInstances", { orgId }, as(member)), 403, "FORBIDDEN");
    // An instance of another organisation, named through this one: not found, and still alive.
    expectTrpcError(
      await trpc(stack, "orgs.revokeMemberInstance", { orgId, instanceId: foreign.instanceId }, as(owner)),
      404,
      "NOT_FOUND",
    );
    await toolsListOk(foreign.instanceUrl);
    await toolsListOk(issued.instanceUrl);

    data(await trpc(stack, "orgs.revokeMemberInstance", { orgId, instanceId: issued.instanceId }, as(admin)));
    await expectInstanceDead(stack, issued.instanceUrl);
    const events = await stack.platform.deps.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.target, issued.instanceId));
    expect(events.find((e) => e.action === "instance.revoke")).toMatchObject({ userId: admin.userId, orgId });
  });
});

describe("member lists come in pages", () => {
  type Item = Record<string, string>;
  /** Every page of `path`, `limit` at a time, each after the last item (its id and time) of the one before. */
  async function walk(path: string, orgId: string, by: TestUser, limit: number, id: string, at: string) {
    const seen: Item[] = [];
    let last: Item | undefined;
    for (;;) {
      const input = { orgId, limit, ...(last && { after: last[id], afterAt: last[at] }) };
      const page = data<Item[]>(await trpc(stack, path, input, as(by)));
      seen.push(...page);
      if (page.length < limit) return seen.map((i) => i[id]);
      last = page.at(-1);
    }
  }

  test("orgs.members and orgs.memberInstances: `limit` and `after` on tRPC and REST, in the order added", async () => {
    const { owner, orgId, members } = await team([{}, {}, {}, {}]);
    const ids = [owner, ...members].map((m) => m.userId);
    const everyone = await membersOf(owner, orgId);
    expect(everyone.map((m) => m.userId)).toEqual(ids);
    expect(await walk("orgs.members", orgId, owner, 2, "userId", "joinedAt")).toEqual(ids);
    // The same over REST, the query read as numbers where the schema says so.
    const second = everyone[1] as { userId: string; joinedAt?: string };
    const query = `limit=2&after=${second.userId}&afterAt=${encodeURIComponent(String(second.joinedAt))}`;
    const viaRest = await rest(stack, "GET", `/orgs/${orgId}/members?${query}`, { auth: as(owner) });
    expect(viaRest.status).toBe(200);
    expect((viaRest.body.members as { userId: string }[]).map((m) => m.userId)).toEqual(ids.slice(2, 4));

    const issued = [];
    for (const m of members) issued.push(await connectFigma(stack, m, figmaKeyFor(stack, "paged"), orgId));
    const instanceIds = issued.map((i) => i.instanceId);
    expect(await walk("orgs.memberInstances", orgId, owner, 3, "instanceId", "createdAt")).toEqual(
      instanceIds,
    );
  });

  test("the item `after` names may be gone (a member removed between pages): the next page is the rest", async () => {
    const { owner, orgId, members } = await team([{}, {}, {}]);
    const ids = [owner, ...members].map((m) => m.userId);
    const page = data<Item[]>(await trpc(stack, "orgs.members", { orgId, limit: 2 }, as(owner)));
    const last = page.at(-1) as Item;
    expect(last.userId).toBe(ids[1] as string);
    expect((await trpc(stack, "orgs.removeMember", { orgId, userId: last.userId }, as(owner))).status).toBe(
      200,
    );
    const next = data<Item[]>(
      await trpc(
        stack,
        "orgs.members",
        { orgId, limit: 2, after: last.userId, afterAt: last.joinedAt },
        as(owner),
      ),
    );
    expect(next.map((m) => m.userId)).toEqual(ids.slice(2, 4));
  });

  test("a bad `limit`, `after` or `afterAt` (or one without the other) → 400; another organisation's item shows nothing of it", async () => {
    const { owner, orgId } = await team([{}]);
    const other = await team([{}]);
    const foreign = await connectFigma(
      stack,
      other.members[0] as TestUser,
      figmaKeyFor(stack, "o"),
      other.orgId,
    );
    const at = new Date().toISOString();
    const cases: [string, Record<string, unknown>][] = [
      ["orgs.members", { limit: 0 }],
      ["orgs.members", { limit: 1001 }],
      ["orgs.members", { limit: 1.5 }],
      ["orgs.members", { limit: "2" }],
      ["orgs.members", { after: "", afterAt: at }],
      ["orgs.members", { after: "x".repeat(69), afterAt: at }],
      // Not an id at all.
      ["orgs.members", { after: "zzz", afterAt: at }],
      ["orgs.memberInstances", { after: "usr_not an id", afterAt: at }],
      ["orgs.members", { after: owner.userId }],
      ["orgs.members", { afterAt: at }],
      ["orgs.members", { after: owner.userId, afterAt: "yesterday" }],
      ["orgs.members", { after: owner.userId, afterAt: `${at}${"0".repeat(64)}` }],
      ["orgs.memberInstances", { limit: 0 }],
      ["orgs.memberInstances", { after: 7, afterAt: at }],
      // A year PostgreSQL cannot hold (a 500 before).
      ["orgs.members", { after: owner.userId, afterAt: "0000-01-01T00:00:00Z" }],
      ["orgs.memberInstances", { after: owner.userId, afterAt: "0000-01-01T00:00:00Z" }],
    ];
    for (const [path, page] of cases) {
      const res = await trpc(stack, path, { orgId, ...page }, as(owner));
      expect([path, page, res.status, res.body.error?.data.appCode]).toEqual([
        path,
        page,
        400,
        "BAD_REQUEST",
      ]);
    }
    for (const query of ["limit=0", `after=${owner.userId}&afterAt=0000-01-01T00:00:00Z`]) {
      expectRestError(
        await rest(stack, "GET", `/orgs/${orgId}/members?${query}`, { auth: as(owner) }),
        400,
        "BAD_REQUEST",
      );
    }
    // A position only: this organisation's items after it, never the other's.
    const mine = data<{ instanceId: string; userId: string }[]>(
      await trpc(
        stack,
        "orgs.memberInstances",
        { orgId, after: foreign.instanceId, afterAt: "2000-01-01T00:00:00Z" },
        as(owner),
      ),
    );
    expect(mine.every((i) => i.instanceId !== foreign.instanceId)).toBe(true);
    expect(JSON.stringify(mine)).not.toContain(other.members[0]?.userId as string);
  });
});

describe("cross-organisation access → 404, as if the organisation did not exist", () => {
  test("every organisation procedure and X-Org-Id for an organisation the caller is not in", async () => {
    const { owner, orgId, members } = await team([{}]);
    const outsider = await newUser(stack);
    const inv = await invite(owner, orgId);
    const issued = await connectFigma(stack, members[0] as TestUser, figmaKeyFor(stack, "x"), orgId);
    const calls: [string, unknown][] = [
      ["orgs.members", { orgId }],
      ["orgs.invite", { orgId, role: "member" }],
      ["orgs.invitations", { orgId }],
      ["orgs.revokeInvitation", { orgId, invitationId: inv.invitationId }],
      ["orgs.setRole", { orgId, userId: owner.userId, role: "member" }],
      ["orgs.removeMember", { orgId, userId: owner.userId }],
      ["orgs.leave", { orgId }],
      ["orgs.memberInstances", { orgId }],
      ["orgs.revokeMemberInstance", { orgId, instanceId: issued.instanceId }],
    ];
    for (const [path, input] of calls) {
      const res = await trpc(stack, path, input, as(outsider));
      expect({ path, status: res.status, code: res.body.error?.data.appCode }).toEqual({
        path,
        status: 404,
        code: "NOT_FOUND",
      });
      expect(JSON.stringify(res.body)).not.toContain("Acme");
    }
    for (const path of ["instances.list", "apiKeys.list", "audit.list"]) {
      expectTrpcError(await trpc(stack, path, undefined, as(outsider, orgId)), 404, "NOT_FOUND");
    }
    // A malformed X-Org-Id is refused before any lookup...
    expectTrpcError(
      await trpc(stack, "instances.list", undefined, as(outsider, "x'; drop")),
      400,
      "BAD_REQUEST",
    );
    // ...once the caller is known: without credentials the answer is the 401 any anonymous call gets.
    expectTrpcError(
      await trpc(stack, "instances.list", undefined, { orgId: "x'; drop" }),
      401,
      "UNAUTHORIZED",
    );
    // Nothing changed.
    expect((await membersOf(owner, orgId)).map((m) => m.role)).toEqual(["owner", "member"]);
    expect(data<unknown[]>(await trpc(stack, "orgs.invitations", { orgId }, as(owner)))).toHaveLength(1);
    await toolsListOk(issued.instanceUrl);
    // REST says the same.
    const res = await rest(stack, "GET", `/orgs/${orgId}/members`, { auth: as(outsider) });
    expect({ status: res.status, code: res.body.code }).toEqual({ status: 404, code: "NOT_FOUND" });
  });

  test("every procedure and REST route with X-Org-Id of an organisation the caller is not in → 404, nothing run", async () => {
    const { owner, orgId } = await team([]);
    const outsider = await newUser(stack);
    const issued = await connectFigma(stack, outsider, figmaKeyFor(stack, "own"));
    const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>;
    const mark = stack.figma.requests.length;
    for (const [path, p] of Object.entries(procedures)) {
      const method = p._def.type === "query" ? "GET" : "POST";
      const res = await trpc(
        stack,
        path,
        { serviceType: "figma", orgId },
        { ...as(outsider, orgId), method },
      );
      expect({ path, status: res.status, code: res.body.error?.data.appCode }).toEqual({
        path,
        status: 404,
        code: "NOT_FOUND",
      });
    }
    for (const [method, path] of [
      ["GET", "/user/instances"],
      ["DELETE", "/services/figma/instance"],
      ["POST", "/services/figma/instance/rotate"],
      ["GET", "/audit"],
      ["POST", "/account/delete"],
    ] as const) {
      const res = await rest(stack, method, path, {
        auth: as(outsider, orgId),
        body: method === "GET" ? undefined : {},
      });
      expect({ path, status: res.status, code: res.body.code }).toEqual({
        path,
        status: 404,
        code: "NOT_FOUND",
      });
    }
    // Nothing ran: the outsider's instance, session and account are as they were; no upstream was called.
    expect(stack.figma.requests.length).toBe(mark);
    await toolsListOk(issued.instanceUrl);
    expect((await trpc(stack, "auth.me", undefined, as(outsider))).status).toBe(200);
    expect((await membersOf(owner, orgId)).map((m) => m.userId)).toEqual([owner.userId]);
  });
});

describe("roles and the last owner", () => {
  test("the last owner cannot be demoted, removed or leave (409); with a second owner they can", async () => {
    const { owner, orgId, members } = await team([{ role: "admin" }]);
    const admin = members[0] as TestUser;
    expectTrpcError(
      await trpc(stack, "orgs.setRole", { orgId, userId: owner.userId, role: "admin" }, as(owner)),
      409,
      "CONFLICT",
    );
    expectTrpcError(await trpc(stack, "orgs.leave", { orgId }, as(owner)), 409, "CONFLICT");
    // An admin can neither demote nor remove an owner, nor make anyone owner.
    expectTrpcError(
      await trpc(stack, "orgs.removeMember", { orgId, userId: owner.userId }, as(admin)),
      403,
      "FORBIDDEN",
    );
    expectTrpcError(
      await trpc(stack, "orgs.setRole", { orgId, userId: admin.userId, role: "owner" }, as(admin)),
      403,
      "FORBIDDEN",
    );
    // Account deletion would strand the admin: refused, nothing deleted.
    expectTrpcError(
      await trpc(stack, "account.delete", { password: "correct horse battery" }, as(owner)),
      409,
      "CONFLICT",
    );
    expect((await membersOf(owner, orgId)).map((m) => m.role)).toEqual(["owner", "admin"]);

    data(await trpc(stack, "orgs.setRole", { orgId, userId: admin.userId, role: "owner" }, as(owner)));
    data(await trpc(stack, "orgs.setRole", { orgId, userId: owner.userId, role: "member" }, as(owner)));
    expect((await membersOf(admin, orgId)).map((m) => m.role)).toEqual(["member", "owner"]);
    // The organisation's trail says which role each change gave and took (the refused ones above left no
    // event), and which role the invitation offered, until when.
    const trail = data<{ items: { action: string; target: string; detail: unknown }[] }>(
      await trpc(stack, "audit.list", { scope: "org" }, as(admin, orgId)),
    ).items;
    const picked = (action: string) =>
      trail.filter((e) => e.action === action).map(({ target, detail }) => ({ target, detail }));
    expect(picked("org.role_change")).toEqual([
      { target: owner.userId, detail: { role: "member", previousRole: "owner" } },
      { target: admin.userId, detail: { role: "owner", previousRole: "admin" } },
    ]);
    expect(picked("org.invite")).toEqual([
      { target: expect.stringMatching(/^inv_/), detail: { role: "admin", expiresAt: expect.any(String) } },
    ]);
    const offered = trail.find((e) => e.action === "org.invite")?.detail as { expiresAt: string };
    expect(new Date(offered.expiresAt).getTime()).toBeGreaterThan(Date.now());
    // The former owner, now a member, may leave.
    expect(data(await trpc(stack, "orgs.leave", { orgId }, as(owner)))).toEqual({
      userId: owner.userId,
      revokedInstances: 0,
    });
    expectTrpcError(await trpc(stack, "orgs.members", { orgId }, as(owner)), 404, "NOT_FOUND");
  });

  test("two owners demoting each other at once: one stays owner", async () => {
    const { owner, orgId, members } = await team([{ role: "admin" }]);
    const second = members[0] as TestUser;
    data(await trpc(stack, "orgs.setRole", { orgId, userId: second.userId, role: "owner" }, as(owner)));
    const answers = await Promise.all([
      trpc(stack, "orgs.setRole", { orgId, userId: owner.userId, role: "member" }, as(second)),
      trpc(stack, "orgs.setRole", { orgId, userId: second.userId, role: "member" }, as(owner)),
    ]);
    // The loser is refused: 409 when both got past the role check together, 403 when the winner had already
    // demoted it by the time its own call was checked.
    const [won, lost] = answers.map((a) => a.status).sort();
    expect(won).toBe(200);
    expect([403, 409]).toContain(lost ?? 0);
    const roles = await stack.platform.deps.db.select().from(orgMembers).where(eq(orgMembers.orgId, orgId));
    expect(roles.filter((r) => r.role === "owner")).toHaveLength(1);
  });

  test("removing a member revokes their instances and API keys there, not elsewhere", async () => {
    const { owner, orgId, members } = await team([{}]);
    const member = members[0] as TestUser;
    const work = await connectFigma(stack, member, figmaKeyFor(stack, "w"), orgId);
    const home = await connectFigma(stack, member, figmaKeyFor(stack, "h"));
    const workKey = data<{ key: string }>(
      await trpc(stack, "apiKeys.create", { name: "w" }, as(member, orgId)),
    ).key;
    const homeKey = data<{ key: string }>(await trpc(stack, "apiKeys.create", { name: "h" }, as(member))).key;
    const removed = data(await trpc(stack, "orgs.removeMember", { orgId, userId: member.userId }, as(owner)));
    expect(removed).toEqual({ userId: member.userId, revokedInstances: 1 });
    await expectInstanceDead(stack, work.instanceUrl);
    await toolsListOk(home.instanceUrl);
    expectTrpcError(await trpc(stack, "instances.list", undefined, { apiKey: workKey }), 401, "UNAUTHORIZED");
    expect((await trpc(stack, "instances.list", undefined, { apiKey: homeKey })).status).toBe(200);
    expectTrpcError(await trpc(stack, "orgs.members", { orgId }, as(member)), 404, "NOT_FOUND");
    // Removing them again: not a member.
    expectTrpcError(
      await trpc(stack, "orgs.removeMember", { orgId, userId: member.userId }, as(owner)),
      404,
      "NOT_FOUND",
    );
  });
});

describe("API keys bound to an organisation", () => {
  test("a key acts only in its organisation; naming another with X-Org-Id → 403", async () => {
    const { owner, orgId, members } = await team([{}]);
    const member = members[0] as TestUser;
    const issued = await connectFigma(stack, member, figmaKeyFor(stack, "k"), orgId);
    const key = data<{ key: string }>(
      await trpc(stack, "apiKeys.create", { name: "ci" }, as(member, orgId)),
    ).key;
    const listed = data<{ instanceId: string }[]>(
      await trpc(stack, "instances.list", undefined, { apiKey: key }),
    );
    expect(listed.map((i) => i.instanceId)).toEqual([issued.instanceId]);
    const personal = data<Org[]>(await trpc(stack, "orgs.list", undefined, as(member))).find(
      (o) => o.personal,
    );
    expectTrpcError(
      await trpc(stack, "instances.list", undefined, { apiKey: key, orgId: personal?.orgId }),
      403,
      "FORBIDDEN",
    );
    // Listed among the organisation's keys only.
    const keysIn = async (auth: Auth) =>
      data<{ name: string }[]>(await trpc(stack, "apiKeys.list", undefined, auth)).map((k) => k.name);
    expect(await keysIn(as(member, orgId))).toEqual(["ci"]);
    expect(await keysIn(as(member))).toEqual([]);
    // The owner's organisation view and the member's own view of usage and audit.
    const ownerKey = data<{ key: string }>(
      await trpc(
        stack,
        "apiKeys.create",
        { name: "admin", scopes: ["audit:read", "org:admin"] },
        as(owner, orgId),
      ),
    ).key;
    const trail = data<{ items: { action: string; actor: { userId: string } }[] }>(
      await trpc(stack, "audit.list", { scope: "org" }, { apiKey: ownerKey }),
    );
    expect(trail.items).toContainEqual(
      expect.objectContaining({
        action: "instance.connect",
        actor: expect.objectContaining({ userId: member.userId }),
      }),
    );
    const auditOnly = data<{ key: string }>(
      await trpc(stack, "apiKeys.create", { name: "audit", scopes: ["audit:read"] }, as(owner, orgId)),
    ).key;
    expectTrpcError(
      await trpc(stack, "audit.list", { scope: "org" }, { apiKey: auditOnly }),
      403,
      "FORBIDDEN",
    );
  });
});

describe("organisation-wide audit and usage", () => {
  test("owners and admins see every member's events and calls; members see their own only (org scope → 403)", async () => {
    const { owner, orgId, members } = await team([{ role: "admin" }, {}]);
    const [admin, member] = members as [TestUser, TestUser];
    const issued = await connectFigma(stack, member, figmaKeyFor(stack, "u"), orgId);
    const client = new Client({ name: "orgs-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(issued.instanceUrl)));
    await client.callTool({ name: "get_me", arguments: {} });
    await client.close();
    await stack.edge.deps.audit.flush();

    const range = {
      from: new Date(Date.now() - 3_600_000).toISOString(),
      to: new Date(Date.now() + 60_000).toISOString(),
    };
    const usage = async (user: TestUser, scope: string) =>
      trpc(
        stack,
        "usage.summary",
        { ...range, groupBy: "tool", scope },
        { ...as(user, orgId), method: "GET" },
      );
    for (const viewer of [owner, admin]) {
      const groups = data<{ groups: { key: string; calls: number }[] }>(await usage(viewer, "org")).groups;
      expect(groups).toEqual([expect.objectContaining({ key: "figma:get_me", calls: 1 })]);
      const trail = data<{ items: { action: string; orgId?: string; actor: { userId: string } }[] }>(
        await trpc(
          stack,
          "audit.list",
          { scope: "org", filters: { action: "tool.call" } },
          as(viewer, orgId),
        ),
      );
      expect(trail.items.map((i) => i.actor.userId)).toEqual([member.userId]);
    }
    expectTrpcError(await usage(member, "org"), 403, "FORBIDDEN");
    expectTrpcError(await trpc(stack, "audit.list", { scope: "org" }, as(member, orgId)), 403, "FORBIDDEN");
    // The member's own view in the organisation has the call; in their personal organisation, nothing.
    const mine = data<{ groups: { calls: number }[] }>(await usage(member, "mine")).groups;
    expect(mine.map((g) => g.calls)).toEqual([1]);
    const personal = await trpc(
      stack,
      "usage.summary",
      { ...range, groupBy: "tool" },
      { ...as(member), method: "GET" },
    );
    expect(data<{ groups: unknown[] }>(personal).groups).toEqual([]);
    // The owner's own view in the organisation: no calls of theirs.
    expect(data<{ groups: unknown[] }>(await usage(owner, "mine")).groups).toEqual([]);
  });
});

describe("quotas: past one, 409 CONFLICT and nothing made", () => {
  test(`at most ${MAX_ORGS_PER_USER} organisations per user (the personal one counts), however many are asked for at once, joined ones too`, async () => {
    const user = await newUser(stack);
    // Five more than there is room for, at once.
    const asked = await Promise.all(
      Array.from({ length: MAX_ORGS_PER_USER + 4 }, (_, i) =>
        trpc(stack, "orgs.create", { name: `Org ${i}` }, as(user)),
      ),
    );
    expect(asked.filter((a) => a.status === 200)).toHaveLength(MAX_ORGS_PER_USER - 1);
    for (const refused of asked.filter((a) => a.status !== 200)) expectTrpcError(refused, 409, "CONFLICT");
    expectTrpcError(await trpc(stack, "orgs.create", { name: "One too many" }, as(user)), 409, "CONFLICT");
    // Joining one more is refused alike, and leaves the invitation unused.
    const host = await newUser(stack);
    const hostOrg = await createOrg(host, "Host");
    const invitation = await invite(host, hostOrg);
    expectTrpcError(await join(user, hostOrg, invitation.token), 409, "CONFLICT");
    data(await join(await newUser(stack), hostOrg, invitation.token));
    expectRestError(
      await rest(stack, "POST", "/orgs", { body: { name: "One too many" }, auth: as(user) }),
      409,
      "CONFLICT",
    );
    const rows = await stack.platform.deps.db
      .select()
      .from(orgMembers)
      .where(eq(orgMembers.userId, user.userId));
    expect(rows).toHaveLength(MAX_ORGS_PER_USER);
  });

  test(`at most ${MAX_PENDING_INVITATIONS} pending invitations per organisation; revoking one makes room`, async () => {
    const owner = await newUser(stack);
    const orgId = await createOrg(owner);
    // Five more than the bound, at once.
    const asked = await Promise.all(
      Array.from({ length: MAX_PENDING_INVITATIONS + 5 }, () =>
        trpc(stack, "orgs.invite", { orgId, role: "member" }, as(owner)),
      ),
    );
    const issued = asked.filter((a) => a.status === 200).map((a) => data<Invitation>(a));
    expect(issued).toHaveLength(MAX_PENDING_INVITATIONS);
    for (const refused of asked.filter((a) => a.status !== 200)) expectTrpcError(refused, 409, "CONFLICT");
    expectTrpcError(await trpc(stack, "orgs.invite", { orgId, role: "member" }, as(owner)), 409, "CONFLICT");
    const pending = () =>
      stack.platform.deps.db.select().from(orgInvitations).where(eq(orgInvitations.orgId, orgId));
    expect(await pending()).toHaveLength(MAX_PENDING_INVITATIONS);
    const first = issued[0] as Invitation;
    data(await trpc(stack, "orgs.revokeInvitation", { orgId, invitationId: first.invitationId }, as(owner)));
    expect((await invite(owner, orgId)).token).toStartWith("inv_");
  });

  test("an owner's API keys and invitations made at once in one organisation all succeed (the bounds' locks do not deadlock)", async () => {
    const owner = await newUser(stack);
    const orgId = await createOrg(owner, "Busy");
    const answers = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        i % 2 === 0
          ? trpc(stack, "apiKeys.create", { name: `busy ${i}` }, as(owner, orgId))
          : trpc(stack, "orgs.invite", { orgId, role: "member" }, as(owner)),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
  });

  test(`at most ${MAX_KEYS_PER_USER} API keys per user, in all organisations together, however many are asked for at once`, async () => {
    const user = await newUser(stack);
    const [acme, other] = [await createOrg(user, "Keys A"), await createOrg(user, "Keys B")];
    // Eight more than the bound, at once, in the personal organisation and another one.
    const asked = await Promise.all(
      Array.from({ length: MAX_KEYS_PER_USER + 8 }, (_, i) =>
        trpc(stack, "apiKeys.create", { name: `k${i}` }, as(user, i % 2 === 0 ? undefined : acme)),
      ),
    );
    expect(asked.filter((a) => a.status === 200)).toHaveLength(MAX_KEYS_PER_USER);
    for (const refused of asked.filter((a) => a.status !== 200)) expectTrpcError(refused, 409, "CONFLICT");
    // A third organisation has no room of its own either; the refusal says where the keys are.
    const refused = await trpc(stack, "apiKeys.create", { name: "one too many" }, as(user, other));
    expectTrpcError(refused, 409, "CONFLICT");
    expect(refused.body.error?.message).toContain(`(0 in this one, ${MAX_KEYS_PER_USER} in others)`);
    expectRestError(
      await rest(stack, "POST", "/api-keys", { body: { name: "one too many" }, auth: as(user) }),
      409,
      "CONFLICT",
    );
    const rows = await stack.platform.deps.db.select().from(apiKeys).where(eq(apiKeys.userId, user.userId));
    expect(rows).toHaveLength(MAX_KEYS_PER_USER);
    // Revoking one makes room for one, wherever.
    const first = rows[0] as (typeof rows)[number];
    const revokedIn = first.orgId === acme ? acme : undefined;
    data(await trpc(stack, "apiKeys.revoke", { id: first.id }, as(user, revokedIn)));
    data(await trpc(stack, "apiKeys.create", { name: "room again" }, as(user, other)));
  });
});
