// updateInstanceSettings on a real database and the configured kv: partial updates, defaults back with null,
// tool names checked against the registry, scoping, and a resolver that cached the instance sees the change.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeySpec } from "@mcp/crypto";
import { instances } from "@mcp/db";
import { eq } from "drizzle-orm";
import { type FakeFigma, startFakeFigma } from "../../../test/fakes/figma.ts";
import { signUp } from "./auth.ts";
import type { Platform } from "./bootstrap.ts";
import type { Actor } from "./deps.ts";
import { updateInstanceSettings } from "./instance-settings.ts";
import { connectInstance, revokeInstance } from "./instances.ts";
import { personalOrgOf } from "./orgs.ts";
import { InstanceResolver } from "./resolve.ts";
import { testPlatform } from "./test-platform.ts";

let figma: FakeFigma;
let platform: Platform;

beforeAll(async () => {
  figma = await startFakeFigma({ keys: new Map() });
  platform = await testPlatform({
    encryptionKeys: generateKeySpec(1),
    kvPrefix: "test:settings:",
    serviceEnv: { SERVICE_FIGMA_BASE_URL: figma.url },
  });
});
afterAll(async () => {
  await platform.close();
  figma.stop();
});

async function connected(): Promise<{ actor: Actor; instanceId: string; token: string }> {
  const signedUp = await signUp(platform.deps, {
    email: `settings-${crypto.randomUUID()}@x.test`,
    password: "0123456789",
  });
  if (!signedUp.ok) throw new Error(signedUp.message);
  const actor = {
    userId: signedUp.value.id,
    orgId: await personalOrgOf(platform.deps.db, signedUp.value.id),
  };
  const key = `figd_${crypto.randomUUID()}`;
  figma.addKey(key, { id: crypto.randomUUID(), email: "a@b.c", handle: "settings" });
  const issued = await connectInstance(platform.deps, actor, { serviceType: "figma", apiKey: key });
  if (!issued.ok) throw new Error(issued.message);
  return { actor, instanceId: issued.value.instanceId, token: issued.value.instanceUrl.split("/")[3] ?? "" };
}

const row = async (id: string) =>
  (await platform.deps.db.select().from(instances).where(eq(instances.id, id)))[0];

describe("updateInstanceSettings", () => {
  test("omitted fields are kept, null resets, the allowlist is stored sorted and unique", async () => {
    const { actor, instanceId } = await connected();
    const first = await updateInstanceSettings(platform.deps, actor, {
      serviceType: "figma",
      displayName: "Design",
      toolAllowlist: ["post_comment", "get_me"],
      rateLimitPerMinute: 30,
    });
    expect(first).toMatchObject({
      ok: true,
      value: {
        instanceId,
        displayName: "Design",
        toolAllowlist: ["get_me", "post_comment"],
        readOnly: false,
        rateLimitPerMinute: 30,
      },
    });
    const second = await updateInstanceSettings(platform.deps, actor, {
      serviceType: "figma",
      readOnly: true,
    });
    expect(second).toMatchObject({
      ok: true,
      value: { displayName: "Design", readOnly: true, rateLimitPerMinute: 30 },
    });
    await updateInstanceSettings(platform.deps, actor, {
      serviceType: "figma",
      displayName: null,
      toolAllowlist: null,
      rateLimitPerMinute: null,
    });
    expect(await row(instanceId)).toMatchObject({
      displayName: null,
      toolAllowlist: null,
      readOnly: true,
      rateLimitPerMinute: null,
    });
  });

  test("refused: unknown tools (named), nothing to change, another actor, a revoked instance", async () => {
    const { actor, instanceId } = await connected();
    const before = await row(instanceId);
    const unknown = await updateInstanceSettings(platform.deps, actor, {
      serviceType: "figma",
      toolAllowlist: ["get_me", "delete_everything"],
    });
    expect(unknown).toMatchObject({ ok: false, code: "BAD_REQUEST" });
    expect(!unknown.ok && unknown.message).toContain("delete_everything");
    expect(await updateInstanceSettings(platform.deps, actor, { serviceType: "figma" })).toMatchObject({
      ok: false,
      code: "BAD_REQUEST",
    });
    // The same user in another organisation, another user in this one: the instance is out of reach.
    const stranger = await connected();
    for (const who of [
      { ...actor, orgId: stranger.actor.orgId },
      { ...stranger.actor, orgId: actor.orgId },
    ]) {
      const res = await updateInstanceSettings(platform.deps, who, { serviceType: "figma", readOnly: true });
      expect(res).toMatchObject({ ok: false, code: "NOT_FOUND" });
    }
    expect(await row(instanceId)).toEqual(before);
    await revokeInstance(platform.deps, actor, { serviceType: "figma" });
    const revoked = await row(instanceId);
    expect(
      await updateInstanceSettings(platform.deps, actor, { serviceType: "figma", readOnly: true }),
    ).toMatchObject({ ok: false, code: "NOT_FOUND" });
    expect(await row(instanceId)).toEqual(revoked);
  });

  test("a resolver that cached the instance serves the new settings on its next lookup", async () => {
    const { actor, token } = await connected();
    const resolver = new InstanceResolver(platform.deps);
    await resolver.start();
    const cached = await resolver.resolve(token);
    expect(cached).toMatchObject({ toolAllowlist: null, readOnly: false, rateLimitPerMinute: null });
    expect(await resolver.resolve(token)).toBe(cached);
    await updateInstanceSettings(platform.deps, actor, {
      serviceType: "figma",
      toolAllowlist: ["get_me"],
      readOnly: true,
      rateLimitPerMinute: 7,
    });
    expect(await resolver.resolve(token)).toMatchObject({
      toolAllowlist: ["get_me"],
      readOnly: true,
      rateLimitPerMinute: 7,
    });
    await resolver.stop();
  });
});
