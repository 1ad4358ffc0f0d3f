// Organisations, account and audit over real HTTP, where the rules bite: a password change keeps the user's
// organisations (account deletion takes the ones they were alone in, and never strands one), `orgs.removeMember`
// is an owner's or an admin's act even on oneself (leaving is `orgs.leave`, from a session), only pending
// invitations can be revoked, and a caller demoted or removed while their request waits is judged by their role
// and membership when it runs (no change by a former admin, no instance or API key left in an organisation
// they were removed from).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  apiKeys,
  auditEvents,
  credentials,
  instances,
  organizations,
  orgInvitations,
  orgMembers,
} from "@mcp/db";
import { and, eq, sql } from "drizzle-orm";
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

const PASSWORD = "correct horse battery";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const db = () => stack.platform.deps.db;
/** The rows of a raw `execute` (postgres-js answers an array, PGlite `{ rows }`). */
const rowsOf = (result: unknown) =>
  (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Record<string, unknown>[];
const as = (user: TestUser, orgId?: string): Auth => ({ cookie: user.cookie, orgId });

async function createOrg(owner: TestUser, name = "Acme"): Promise<string> {
  return data<{ orgId: string }>(await trpc(stack, "orgs.create", { name }, as(owner))).orgId;
}

/** An organisation owned by a new user, with `members` more who joined through invitations. */
async function team(members: ("admin" | "member")[] = ["member"]) {
  const owner = await newUser(stack);
  const orgId = await createOrg(owner);
  const joined: TestUser[] = [];
  for (const role of members) {
    const user = await newUser(stack);
    const inv = data<{ token: string }>(await trpc(stack, "orgs.invite", { orgId, role }, as(owner)));
    data(await trpc(stack, "orgs.acceptInvitation", { orgId, token: inv.token }, as(user)));
    joined.push(user);
  }
  return { owner, orgId, members: joined };
}

async function rolesOf(orgId: string): Promise<Record<string, string>> {
  const rows = await db().select().from(orgMembers).where(eq(orgMembers.orgId, orgId));
  return Object.fromEntries(rows.map((r) => [r.userId, r.role]));
}

async function toolsListStatus(instanceUrl: string): Promise<number> {
  const res = await fetch(instanceUrl, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2025-06-18",
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
  });
  await res.body?.cancel();
  return res.status;
}

describe("account.changePassword keeps the user's organisations", () => {
  test("an organisation the user is alone in, its instances, keys and audit trail all survive a password change", async () => {
    const user = await newUser(stack);
    const orgId = await createOrg(user, "Solo");
    const issued = await connectFigma(stack, user, figmaKeyFor(stack, "solo"), orgId);
    const key = data<{ key: string }>(
      await trpc(stack, "apiKeys.create", { name: "ci" }, as(user, orgId)),
    ).key;

    const res = await trpc(
      stack,
      "account.changePassword",
      { currentPassword: PASSWORD, newPassword: "another long passphrase" },
      as(user),
    );
    expect(data(res)).toEqual({ ok: true });
    const fresh = (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const after = { ...user, cookie: fresh };

    // The organisation is still there, with the user as its owner.
    const orgs = data<{ orgId: string; role: string }[]>(
      await trpc(stack, "orgs.list", undefined, as(after)),
    );
    expect(orgs.find((o) => o.orgId === orgId)).toMatchObject({ role: "owner" });
    expect(await db().select().from(organizations).where(eq(organizations.id, orgId))).toHaveLength(1);
    // Instance URLs and API keys are credentials of their own and keep working (README, "Account").
    expect(await toolsListStatus(issued.instanceUrl)).toBe(200);
    const listed = data<{ instanceId: string }[]>(
      await trpc(stack, "instances.list", undefined, { apiKey: key }),
    );
    expect(listed.map((i) => i.instanceId)).toEqual([issued.instanceId]);
    // And the organisation's trail is intact.
    const trail = data<{ items: { action: string }[] }>(
      await trpc(stack, "audit.list", { scope: "org" }, as(after, orgId)),
    ).items.map((e) => e.action);
    expect(trail).toEqual(expect.arrayContaining(["org.create", "instance.connect", "api_key.create"]));
  });
});

describe("account.delete and the user's organisations", () => {
  test("the shared organisations the user was the only member of go with the account; others stay", async () => {
    const user = await newUser(stack);
    const solo = await createOrg(user, "Solo");
    await connectFigma(stack, user, figmaKeyFor(stack, "del"), solo);
    // An organisation where the user is a plain member stays, with its owner.
    const other = await team(["member"]);
    const otherOwner = other.owner;
    const inv = data<{ token: string }>(
      await trpc(stack, "orgs.invite", { orgId: other.orgId, role: "member" }, as(otherOwner)),
    );
    data(await trpc(stack, "orgs.acceptInvitation", { orgId: other.orgId, token: inv.token }, as(user)));
    // A pending invitation of the solo organisation dies with it.
    data(await trpc(stack, "orgs.invite", { orgId: solo, role: "admin" }, as(user)));

    const res = await trpc(stack, "account.delete", { password: PASSWORD }, as(user));
    expect(data(res)).toMatchObject({ ok: true, instancesDeleted: 1 });
    expect(await db().select().from(organizations).where(eq(organizations.id, solo))).toHaveLength(0);
    expect(await db().select().from(orgInvitations).where(eq(orgInvitations.orgId, solo))).toHaveLength(0);
    expect(await db().select().from(organizations).where(eq(organizations.id, other.orgId))).toHaveLength(1);
    const roles = await rolesOf(other.orgId);
    expect(roles[user.userId]).toBeUndefined();
    expect(roles[otherOwner.userId]).toBe("owner");
  });
});

describe("account.delete ends the user's standing in the organisations they leave", () => {
  test("an admin's pending invitations are revoked with the account: not listed, not usable, not counted", async () => {
    const { owner, orgId, members } = await team(["admin"]);
    const admin = members[0] as TestUser;
    const made = data<{ invitationId: string; token: string }>(
      await trpc(stack, "orgs.invite", { orgId, role: "member" }, as(admin)),
    );
    expect(data(await trpc(stack, "account.delete", { password: PASSWORD }, as(admin)))).toMatchObject({
      ok: true,
    });
    expect(data(await trpc(stack, "orgs.invitations", { orgId }, as(owner)))).toEqual([]);
    const [row] = await db().select().from(orgInvitations).where(eq(orgInvitations.id, made.invitationId));
    expect(row?.revokedAt).not.toBeNull();
    const invitee = await newUser(stack);
    expectTrpcError(
      await trpc(stack, "orgs.acceptInvitation", { orgId, token: made.token }, as(invitee)),
      404,
      "NOT_FOUND",
    );
  });
});

describe("account.delete never strands an organisation", () => {
  test("its two owners deleting their accounts at once: one is refused (409) and the organisation keeps an owner", async () => {
    const { owner, orgId, members } = await team(["admin", "member"]);
    const [second, member] = members as [TestUser, TestUser];
    data(await trpc(stack, "orgs.setRole", { orgId, userId: second.userId, role: "owner" }, as(owner)));
    const answers = await Promise.all(
      [owner, second].map((u) => trpc(stack, "account.delete", { password: PASSWORD }, as(u))),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    const refused = answers.find((a) => a.status === 409);
    if (refused) expectTrpcError(refused, 409, "CONFLICT");
    const roles = await rolesOf(orgId);
    expect(Object.values(roles).sort()).toEqual(["member", "owner"]);
    expect(roles[member.userId]).toBe("member");
  });
});

describe("account.delete checks the last owner when it runs", () => {
  test("the other owner demoted while the deletion waits: 409, nothing deleted, the organisation keeps its owner", async () => {
    const { owner, orgId, members } = await team(["admin", "member"]);
    const [second] = members as [TestUser, TestUser];
    data(await trpc(stack, "orgs.setRole", { orgId, userId: second.userId, role: "owner" }, as(owner)));
    const res = await whileChanging(
      orgId,
      async (tx) => {
        await demote(orgId, second)(tx);
        // The deleting user's row too: the deletion's transaction starts by locking it.
        await tx.execute(sql`select 1 from users where id = ${owner.userId} for update`);
      },
      () => trpc(stack, "account.delete", { password: PASSWORD }, as(owner)),
    );
    expectTrpcError(res, 409, "CONFLICT");
    expect(await rolesOf(orgId)).toEqual(
      Object.fromEntries([[owner.userId, "owner"], ...members.map((m) => [m.userId, "member"])]),
    );
    // Still signed in: nothing of the account went.
    expect(data<{ id: string } | null>(await trpc(stack, "auth.me", undefined, as(owner)))?.id).toBe(
      owner.userId,
    );
  });
});

describe("orgs.removeMember is an owner's or an admin's act, even on oneself", () => {
  test("a member removing themselves with removeMember: 403 over tRPC and REST, and with a key of every scope; still a member", async () => {
    const { orgId, members } = await team(["member"]);
    const member = members[0] as TestUser;
    const issued = await connectFigma(stack, member, figmaKeyFor(stack, "self"), orgId);
    // A key made in the organisation without `scopes` holds every scope, `org:admin` included.
    const key = data<{ key: string }>(
      await trpc(stack, "apiKeys.create", { name: "all" }, as(member, orgId)),
    ).key;

    expectTrpcError(
      await trpc(stack, "orgs.removeMember", { orgId, userId: member.userId }, as(member, orgId)),
      403,
      "FORBIDDEN",
    );
    expectTrpcError(
      await trpc(stack, "orgs.removeMember", { orgId, userId: member.userId }, { apiKey: key }),
      403,
      "FORBIDDEN",
    );
    expectRestError(
      await rest(stack, "DELETE", `/orgs/${orgId}/members/${member.userId}`, { auth: { apiKey: key } }),
      403,
      "FORBIDDEN",
    );
    // Nothing changed: still a member, the instance and the key still work, no event written.
    expect((await rolesOf(orgId))[member.userId]).toBe("member");
    expect(await toolsListStatus(issued.instanceUrl)).toBe(200);
    expect((await trpc(stack, "instances.list", undefined, { apiKey: key })).status).toBe(200);
    const left = await db()
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.orgId, orgId), eq(auditEvents.target, member.userId)));
    expect(left.filter((e) => e.action === "org.leave" || e.action === "org.member_remove")).toEqual([]);

    // Leaving is `orgs.leave`, from a session: it works, and takes the key and the instance with it.
    expect(data(await trpc(stack, "orgs.leave", { orgId }, as(member)))).toEqual({
      userId: member.userId,
      revokedInstances: 1,
    });
    await expectInstanceDead(stack, issued.instanceUrl);
    expectTrpcError(await trpc(stack, "instances.list", undefined, { apiKey: key }), 401, "UNAUTHORIZED");
  });

  test("an admin may remove themselves with removeMember (recorded as a removal); the last owner still may not (409)", async () => {
    const { owner, orgId, members } = await team(["admin"]);
    const admin = members[0] as TestUser;
    expectTrpcError(
      await trpc(stack, "orgs.removeMember", { orgId, userId: owner.userId }, as(owner)),
      409,
      "CONFLICT",
    );
    expect(data(await trpc(stack, "orgs.removeMember", { orgId, userId: admin.userId }, as(admin)))).toEqual({
      userId: admin.userId,
      revokedInstances: 0,
    });
    expect(await rolesOf(orgId)).toEqual({ [owner.userId]: "owner" });
    const events = await db()
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.orgId, orgId), eq(auditEvents.target, admin.userId)));
    expect(events.filter((e) => e.action !== "org.role_change").map((e) => [e.action, e.userId])).toEqual([
      ["org.member_remove", admin.userId],
    ]);
  });
});

describe("a member removed while their connect is being checked upstream", () => {
  test("the connect answers 404 and leaves nothing: no instance, credential or working URL in the organisation", async () => {
    const { owner, orgId, members } = await team(["member"]);
    const member = members[0] as TestUser;
    const key = figmaKeyFor(stack, "late");
    const checks = stack.figma.requests.length;
    // The upstream answers the key check slowly; the member is removed while it is pending.
    stack.figma.delayMs = 1500;
    let connecting: Promise<TrpcAnswer>;
    try {
      connecting = trpc(stack, "instances.connect", { serviceType: "figma", apiKey: key }, as(member, orgId));
      for (let i = 0; i < 2000 && stack.figma.requests.length === checks; i++) await Bun.sleep(2);
      expect(
        data(await trpc(stack, "orgs.removeMember", { orgId, userId: member.userId }, as(owner))),
      ).toEqual({ userId: member.userId, revokedInstances: 0 });
    } finally {
      stack.figma.delayMs = 0;
    }
    expectTrpcError(await connecting, 404, "NOT_FOUND");
    const left = await db()
      .select()
      .from(instances)
      .where(and(eq(instances.orgId, orgId), eq(instances.userId, member.userId)));
    expect(left).toEqual([]);
    const sealed = await db()
      .select()
      .from(credentials)
      .where(and(eq(credentials.orgId, orgId), eq(credentials.userId, member.userId)));
    expect(sealed).toEqual([]);
    // The owner sees no instance of theirs in the organisation.
    expect(data<unknown[]>(await trpc(stack, "orgs.memberInstances", { orgId }, as(owner)))).toEqual([]);
  });
});

describe("only pending invitations are revoked", () => {
  test("an expired invitation: 404 over tRPC and REST, no event; a pending one: revoked once, then 404", async () => {
    const { owner, orgId } = await team([]);
    const expired = data<{ invitationId: string }>(
      await trpc(stack, "orgs.invite", { orgId, role: "member" }, as(owner)),
    );
    await db()
      .update(orgInvitations)
      .set({ expiresAt: new Date(Date.now() - 60_000) })
      .where(eq(orgInvitations.id, expired.invitationId));
    expectTrpcError(
      await trpc(stack, "orgs.revokeInvitation", { orgId, invitationId: expired.invitationId }, as(owner)),
      404,
      "NOT_FOUND",
    );
    expectRestError(
      await rest(stack, "DELETE", `/orgs/${orgId}/invitations/${expired.invitationId}`, { auth: as(owner) }),
      404,
      "NOT_FOUND",
    );
    const [row] = await db().select().from(orgInvitations).where(eq(orgInvitations.id, expired.invitationId));
    expect(row?.revokedAt).toBeNull();

    const pending = data<{ invitationId: string }>(
      await trpc(stack, "orgs.invite", { orgId, role: "member" }, as(owner)),
    );
    expect(
      data(
        await trpc(stack, "orgs.revokeInvitation", { orgId, invitationId: pending.invitationId }, as(owner)),
      ),
    ).toEqual({ invitationId: pending.invitationId });
    expectTrpcError(
      await trpc(stack, "orgs.revokeInvitation", { orgId, invitationId: pending.invitationId }, as(owner)),
      404,
      "NOT_FOUND",
    );
    const revokes = await db()
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.orgId, orgId), eq(auditEvents.action, "org.invitation_revoke")));
    expect(revokes.map((e) => e.target)).toEqual([pending.invitationId]);
  });
});

/** A transaction of the test's own (the db's transaction callback's argument). */
type Tx = Parameters<Parameters<ReturnType<typeof db>["transaction"]>[0]>[0];

/**
 * Runs `change` in a transaction of the test's own that keeps the organisation's row and its member rows locked,
 * sends `call` meanwhile, and commits once the call waits on one of those locks (or has answered): the call's
 * checks must then see the change. On PGlite (one connection) every statement waits for the transaction, so the
 * call simply runs after it.
 */
async function whileChanging(
  orgId: string,
  change: (tx: Tx) => Promise<unknown>,
  call: () => Promise<TrpcAnswer>,
): Promise<TrpcAnswer> {
  let answer: Promise<TrpcAnswer> | undefined;
  await db().transaction(async (tx) => {
    await tx.execute(sql`select 1 from organizations where id = ${orgId} for update`);
    await tx.execute(sql`select 1 from org_members where org_id = ${orgId} for update`);
    await change(tx);
    answer = call();
    if (process.env.DATABASE_URL) {
      const [me] = rowsOf(await tx.execute(sql`select pg_backend_pid() as pid`));
      await blockedBy(Number(me?.pid), answer);
    }
  });
  if (!answer) throw new Error("no call made");
  return answer;
}

/**
 * Until a backend waits on a lock this transaction (`pid`) holds, or the call answered. Asked on another
 * connection of the pool; other test files' waits are not counted.
 */
async function blockedBy(pid: number, answer: Promise<unknown>): Promise<void> {
  let done = false;
  void answer.finally(() => {
    done = true;
  });
  for (let i = 0; i < 4000 && !done; i++) {
    const [row] = rowsOf(
      await db().execute(
        sql`select count(*)::int as n from pg_stat_activity where ${pid} = any(pg_blocking_pids(pid))`,
      ),
    );
    if (Number(row?.n ?? 0) > 0) return;
    await Bun.sleep(5);
  }
}

const demote = (orgId: string, who: TestUser) => (tx: Tx) =>
  tx
    .update(orgMembers)
    .set({ role: "member" })
    .where(and(eq(orgMembers.orgId, orgId), eq(orgMembers.userId, who.userId)));

describe("a caller demoted or removed while their request waits is judged by the role they have when it runs", () => {
  test("an admin demoted to member: setRole, removeMember and invite answer 403; nothing changed", async () => {
    const { owner, orgId, members } = await team(["admin", "member"]);
    const [admin, member] = members as [TestUser, TestUser];
    const setRole = await whileChanging(orgId, demote(orgId, admin), () =>
      trpc(stack, "orgs.setRole", { orgId, userId: member.userId, role: "admin" }, as(admin)),
    );
    expectTrpcError(setRole, 403, "FORBIDDEN");
    expect(await rolesOf(orgId)).toEqual({
      [owner.userId]: "owner",
      [admin.userId]: "member",
      [member.userId]: "member",
    });

    // Made admin again, then demoted while removing the member.
    data(await trpc(stack, "orgs.setRole", { orgId, userId: admin.userId, role: "admin" }, as(owner)));
    const removed = await whileChanging(orgId, demote(orgId, admin), () =>
      trpc(stack, "orgs.removeMember", { orgId, userId: member.userId }, as(admin)),
    );
    expectTrpcError(removed, 403, "FORBIDDEN");
    expect((await rolesOf(orgId))[member.userId]).toBe("member");

    data(await trpc(stack, "orgs.setRole", { orgId, userId: admin.userId, role: "admin" }, as(owner)));
    const invited = await whileChanging(orgId, demote(orgId, admin), () =>
      trpc(stack, "orgs.invite", { orgId, role: "admin" }, as(admin)),
    );
    expectTrpcError(invited, 403, "FORBIDDEN");
    const pending = await db()
      .select()
      .from(orgInvitations)
      .where(and(eq(orgInvitations.orgId, orgId), eq(orgInvitations.invitedBy, admin.userId)));
    expect(pending.filter((i) => i.acceptedAt === null && i.revokedAt === null)).toEqual([]);
  });

  test("a member removed while making an API key there: 404, no key made (none bound to an organisation they left)", async () => {
    const { orgId, members } = await team(["member"]);
    const member = members[0] as TestUser;
    const res = await whileChanging(
      orgId,
      (tx) =>
        tx.delete(orgMembers).where(and(eq(orgMembers.orgId, orgId), eq(orgMembers.userId, member.userId))),
      () => trpc(stack, "apiKeys.create", { name: "late" }, as(member, orgId)),
    );
    expectTrpcError(res, 404, "NOT_FOUND");
    expect(await db().select().from(apiKeys).where(eq(apiKeys.userId, member.userId))).toEqual([]);
    expect(
      await db()
        .select()
        .from(auditEvents)
        .where(and(eq(auditEvents.userId, member.userId), eq(auditEvents.action, "api_key.create"))),
    ).toEqual([]);
  });

  test("an admin removed meanwhile: the change answers 404 as for any organisation they are not in", async () => {
    const { owner, orgId, members } = await team(["admin", "member"]);
    const [admin, member] = members as [TestUser, TestUser];
    const res = await whileChanging(
      orgId,
      (tx) =>
        tx.delete(orgMembers).where(and(eq(orgMembers.orgId, orgId), eq(orgMembers.userId, admin.userId))),
      () => trpc(stack, "orgs.setRole", { orgId, userId: member.userId, role: "admin" }, as(admin)),
    );
    expectTrpcError(res, 404, "NOT_FOUND");
    expect(await rolesOf(orgId)).toEqual({ [owner.userId]: "owner", [member.userId]: "member" });
  });
});
