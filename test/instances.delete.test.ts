// instances.delete and its REST twin: the instance (live or revoked) and its sealed credential are erased in
// one go, the URL dies at once at the edge, an `instance.delete` event without any secret remains, and
// connecting again makes a brand-new instance. Other users' and other organisations' instances are out of
// reach (404, nothing deleted); an API key without `instances:write` gets 403 and changes nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { auditEvents, credentials, instances } from "@mcp/db";
import { and, eq } from "drizzle-orm";
import {
  type Auth,
  callGetMe,
  connectFigma,
  data,
  expectInstanceDead,
  expectRestError,
  expectTrpcError,
  figmaKeyFor,
  newUser,
  rest,
  type TestUser,
  trpc,
} from "./client.ts";
import { type Stack, startStack } from "./harness.ts";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

const tokenOf = (instanceUrl: string) => new URL(instanceUrl).pathname.split("/")[1] ?? "";

/** The user's instance and credential rows (in every organisation), less the times that mere use moves. */
async function rowsOf(user: TestUser) {
  const db = stack.platform.deps.db;
  const [insts, creds] = await Promise.all([
    db.select().from(instances).where(eq(instances.userId, user.userId)),
    db.select().from(credentials).where(eq(credentials.userId, user.userId)),
  ]);
  const byId = <T extends { id: string }>(rows: T[]) => rows.sort((a, b) => a.id.localeCompare(b.id));
  return {
    insts: byId(insts.map(({ lastUsedAt: _, updatedAt: __, ...i }) => i)),
    creds: byId(creds),
  };
}

const deleteEvents = (user: TestUser) =>
  stack.platform.deps.db
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.userId, user.userId), eq(auditEvents.action, "instance.delete")));

const del = (auth: Auth, serviceType = "figma") => trpc(stack, "instances.delete", { serviceType }, auth);

describe("instances.delete", () => {
  test("a live instance: gone from the database and the list, its URL dead at once, audited without a secret", async () => {
    const user = await newUser(stack);
    const figmaKey = figmaKeyFor(stack, `del-${crypto.randomUUID()}`);
    const issued = await connectFigma(stack, user, figmaKey);
    // Used once, so every cache on the way (edge memory, kv) holds the instance.
    expect(await callGetMe(issued.instanceUrl)).toBe(200);
    const before = await rowsOf(user);
    expect(before.insts).toHaveLength(1);
    expect(before.creds).toHaveLength(1);
    const writes = stack.kvWrites.length;

    const res = await del({ cookie: user.cookie });
    expect(res.status).toBe(200);
    expect(data(res)).toEqual({ instanceId: issued.instanceId });

    await expectInstanceDead(stack, issued.instanceUrl);
    expect(await rowsOf(user)).toEqual({ insts: [], creds: [] });
    // Not even another user's query could find the rows: they are gone, not flagged.
    const db = stack.platform.deps.db;
    expect(await db.select().from(instances).where(eq(instances.id, issued.instanceId))).toEqual([]);
    expect(
      await db
        .select()
        .from(credentials)
        .where(eq(credentials.id, before.creds[0]?.id ?? "")),
    ).toEqual([]);
    const listed = data<unknown[]>(await trpc(stack, "instances.list", undefined, { cookie: user.cookie }));
    expect(listed).toEqual([]);
    expectTrpcError(
      await trpc(stack, "instances.get", { serviceType: "figma" }, { cookie: user.cookie }),
      404,
      "NOT_FOUND",
    );
    // The user's cached upstream reads became unreachable (the read generation moved on).
    expect(
      stack.kvWrites
        .slice(writes)
        .some((w) => w.includes(`cachegen:`) && w.includes(`:${user.userId}:figma=`)),
    ).toBe(true);

    const events = await deleteEvents(user);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      status: "ok",
      target: issued.instanceId,
      instanceId: issued.instanceId,
      serviceType: "figma",
    });
    const text = JSON.stringify(events);
    for (const secret of [figmaKey, figmaKey.slice(5), tokenOf(issued.instanceUrl)]) {
      expect(text).not.toContain(secret);
    }

    // Deleting again: nothing there → 404, no second event.
    expectTrpcError(await del({ cookie: user.cookie }), 404, "NOT_FOUND");
    expect(await deleteEvents(user)).toHaveLength(1);
  });

  test("a revoked instance is deleted too, credential and all", async () => {
    const user = await newUser(stack);
    const issued = await connectFigma(stack, user, figmaKeyFor(stack, `rev-${crypto.randomUUID()}`));
    data(await trpc(stack, "instances.revoke", { serviceType: "figma" }, { cookie: user.cookie }));
    const revoked = await rowsOf(user);
    expect(revoked.insts.map((i) => i.status)).toEqual(["revoked"]);
    expect(revoked.creds).toHaveLength(1);

    expect(data(await del({ cookie: user.cookie }))).toEqual({ instanceId: issued.instanceId });
    expect(await rowsOf(user)).toEqual({ insts: [], creds: [] });
    await expectInstanceDead(stack, issued.instanceUrl);
    expect((await deleteEvents(user)).map((e) => e.target)).toEqual([issued.instanceId]);
  });

  test("connecting again after a delete makes a brand-new instance with a new URL", async () => {
    const user = await newUser(stack);
    const account = `again-${crypto.randomUUID()}`;
    const first = await connectFigma(stack, user, figmaKeyFor(stack, account));
    const firstCredential = (await rowsOf(user)).creds[0]?.id;
    data(await del({ cookie: user.cookie }));

    const second = await connectFigma(stack, user, figmaKeyFor(stack, account));
    expect(second.instanceId).not.toBe(first.instanceId);
    expect(second.instanceUrl).not.toBe(first.instanceUrl);
    const after = await rowsOf(user);
    expect(after.insts.map((i) => [i.id, i.status])).toEqual([[second.instanceId, "active"]]);
    expect(after.creds.map((c) => c.id)).not.toContain(firstCredential);
    expect(await callGetMe(second.instanceUrl)).toBe(200);
    await expectInstanceDead(stack, first.instanceUrl);
  });

  test("another user's instance: 404 NOT_FOUND, nothing deleted, no event", async () => {
    const [alice, bob] = await Promise.all([newUser(stack), newUser(stack)]);
    const issued = await connectFigma(stack, alice, figmaKeyFor(stack, `alice-${crypto.randomUUID()}`));
    const before = await rowsOf(alice);

    expectTrpcError(await del({ cookie: bob.cookie }), 404, "NOT_FOUND");
    expectRestError(
      await rest(stack, "POST", "/services/figma/instance/delete", { auth: { cookie: bob.cookie } }),
      404,
      "NOT_FOUND",
    );
    expect(await rowsOf(alice)).toEqual(before);
    expect(await deleteEvents(alice)).toEqual([]);
    expect(await deleteEvents(bob)).toEqual([]);
    expect(await callGetMe(issued.instanceUrl)).toBe(200);
  });

  test("another organisation's instance: 404 there; each organisation's own instance is deleted alone", async () => {
    const owner = await newUser(stack);
    const member = await newUser(stack);
    const { orgId } = data<{ orgId: string }>(
      await trpc(stack, "orgs.create", { name: "Delete Co" }, { cookie: owner.cookie }),
    );
    const { token } = data<{ token: string }>(
      await trpc(stack, "orgs.invite", { orgId, role: "member" }, { cookie: owner.cookie }),
    );
    data(await trpc(stack, "orgs.acceptInvitation", { orgId, token }, { cookie: member.cookie }));
    const memberInOrg = await connectFigma(
      stack,
      member,
      figmaKeyFor(stack, `m-${crypto.randomUUID()}`),
      orgId,
    );
    const memberPersonal = await connectFigma(stack, member, figmaKeyFor(stack, `p-${crypto.randomUUID()}`));
    const ownerMark = await rowsOf(owner);
    const memberBefore = await rowsOf(member);
    expect(memberBefore.insts).toHaveLength(2);

    // The owner acts in the organisation, where only the member has an instance: not theirs to delete.
    expectTrpcError(await del({ cookie: owner.cookie, orgId }), 404, "NOT_FOUND");
    expect(await rowsOf(member)).toEqual(memberBefore);
    expect(await rowsOf(owner)).toEqual(ownerMark);

    // The member in the organisation: only that one goes; the personal one still works.
    expect(data(await del({ cookie: member.cookie, orgId }))).toEqual({ instanceId: memberInOrg.instanceId });
    await expectInstanceDead(stack, memberInOrg.instanceUrl);
    const left = await rowsOf(member);
    expect(left.insts.map((i) => i.id)).toEqual([memberPersonal.instanceId]);
    expect(left.creds).toHaveLength(1);
    expect(left.creds[0]?.orgId).not.toBe(orgId);
    expect(await callGetMe(memberPersonal.instanceUrl)).toBe(200);

    // An organisation the caller does not belong to (the member's personal one): 404, as if it did not exist.
    const personalOrg = left.insts[0]?.orgId ?? "";
    expectTrpcError(await del({ cookie: owner.cookie, orgId: personalOrg }), 404, "NOT_FOUND");
    expect(await rowsOf(member)).toEqual(left);
    expect(await callGetMe(memberPersonal.instanceUrl)).toBe(200);
  });

  test("an API key without instances:write → 403 FORBIDDEN, nothing deleted; with it, the delete works", async () => {
    const user = await newUser(stack);
    const issued = await connectFigma(stack, user, figmaKeyFor(stack, `key-${crypto.randomUUID()}`));
    const make = async (scopes: string[]) =>
      data<{ key: string }>(
        await trpc(stack, "apiKeys.create", { name: "k", scopes }, { cookie: user.cookie }),
      ).key;
    const reader = await make(["instances:read", "usage:read", "audit:read", "org:admin"]);
    const writer = await make(["instances:write"]);
    const before = await rowsOf(user);

    expectTrpcError(await del({ apiKey: reader }), 403, "FORBIDDEN");
    expectRestError(
      await rest(stack, "POST", "/services/figma/instance/delete", { auth: { apiKey: reader } }),
      403,
      "FORBIDDEN",
    );
    expect(await rowsOf(user)).toEqual(before);
    expect(await deleteEvents(user)).toEqual([]);
    expect(await callGetMe(issued.instanceUrl)).toBe(200);

    expect(data(await del({ apiKey: writer }))).toEqual({ instanceId: issued.instanceId });
    expect(await rowsOf(user)).toEqual({ insts: [], creds: [] });
    await expectInstanceDead(stack, issued.instanceUrl);
  });

  test("bad input → 400 BAD_REQUEST, nothing deleted", async () => {
    const user = await newUser(stack);
    await connectFigma(stack, user, figmaKeyFor(stack, `bad-${crypto.randomUUID()}`));
    const before = await rowsOf(user);
    for (const input of [{}, { serviceType: "" }, { serviceType: "x".repeat(129) }, { serviceType: 7 }]) {
      expectTrpcError(
        await trpc(stack, "instances.delete", input, { cookie: user.cookie }),
        400,
        "BAD_REQUEST",
      );
    }
    expect(await rowsOf(user)).toEqual(before);
    // No session, no key: 401.
    expectTrpcError(await del({}), 401, "UNAUTHORIZED");
    expect(await rowsOf(user)).toEqual(before);
  });
});

describe("POST /api/v1/services/:serviceType/instance/delete", () => {
  test("deletes the caller's instance and erases its credential; again → 404", async () => {
    const user = await newUser(stack);
    const issued = await connectFigma(stack, user, figmaKeyFor(stack, `rest-${crypto.randomUUID()}`));
    expect(await callGetMe(issued.instanceUrl)).toBe(200);

    const res = await rest(stack, "POST", "/services/figma/instance/delete", {
      auth: { cookie: user.cookie },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ instanceId: issued.instanceId, message: expect.any(String) });
    expect(JSON.stringify(res.body)).not.toContain(tokenOf(issued.instanceUrl));
    await expectInstanceDead(stack, issued.instanceUrl);
    expect(await rowsOf(user)).toEqual({ insts: [], creds: [] });
    expect((await deleteEvents(user)).map((e) => e.target)).toEqual([issued.instanceId]);

    expectRestError(
      await rest(stack, "POST", "/services/figma/instance/delete", { auth: { cookie: user.cookie } }),
      404,
      "NOT_FOUND",
    );
    expect(
      (await rest(stack, "GET", "/services/figma/instance", { auth: { cookie: user.cookie } })).status,
    ).toBe(404);
  });
});

describe("audit.list accepts tRPC's infinite-query `direction`", () => {
  test('"forward" pages as without it; "backward" or anything else → 400 BAD_REQUEST', async () => {
    const user = await newUser(stack);
    await connectFigma(stack, user, figmaKeyFor(stack, `dir-${crypto.randomUUID()}`));
    const auth = { cookie: user.cookie };
    const plain = data<{ items: { id: string }[] }>(await trpc(stack, "audit.list", { limit: 5 }, auth));
    const forward = data<{ items: { id: string }[] }>(
      await trpc(stack, "audit.list", { limit: 5, direction: "forward" }, auth),
    );
    expect(plain.items.length).toBeGreaterThan(0);
    expect(forward).toEqual(plain);
    for (const direction of ["backward", "sideways", 1]) {
      expectTrpcError(await trpc(stack, "audit.list", { limit: 5, direction }, auth), 400, "BAD_REQUEST");
    }
    // Everything else stays strict.
    expectTrpcError(await trpc(stack, "audit.list", { limit: 5, extra: true }, auth), 400, "BAD_REQUEST");
  });
});
