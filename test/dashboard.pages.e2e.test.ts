// The dashboard page by page: a keyboard-only sign-up and connect; API keys, audit log (filters in the URL,
// cursor pages, detail panel) and account; then every page at desktop width and at 390 px, with no horizontal
// page scroll and a screenshot of each under test/artifacts/.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { newId } from "@mcp/core";
import { credentials, instances, organizations, orgMembers, users } from "@mcp/db";
import { eq, inArray } from "drizzle-orm";
import type { Browser, Locator, Page } from "playwright-core";
import { ensureDashboardBuilt } from "../scripts/dashboard-build.ts";
import { connectFigma, data, figmaKeyFor, type TestUser, trpc } from "./client.ts";
import {
  clipboard,
  closeProfiles,
  cookieOf,
  DESKTOP,
  expectNoHorizontalScroll,
  freshEmail,
  launchBrowser,
  openProfile,
  PASSWORD,
  PHONE,
  type Profile,
  screenshot,
  signUpUi,
  tabTo,
} from "./dashboard/browser.ts";
import { type Stack, startStack } from "./harness.ts";
import { callTool, mcpClient } from "./services/kit.ts";

let stack: Stack;
let browser: Browser;
const profiles: Profile[] = [];
/** Users this file inserted directly (deleting them deletes their memberships, credentials and instances). */
const seeded: string[] = [];

beforeAll(async () => {
  await ensureDashboardBuilt();
  [stack, browser] = await Promise.all([startStack(), launchBrowser()]);
}, 120_000);

afterAll(async () => {
  await closeProfiles(profiles);
  await browser?.close();
  if (seeded.length > 0) await stack.platform.deps.db.delete(users).where(inArray(users.id, seeded));
  await stack?.stop();
});

async function open(path: string, viewport = DESKTOP): Promise<Profile> {
  const profile = await openProfile(browser, `${stack.controlPlaneUrl}${path}`, viewport);
  profiles.push(profile);
  return profile;
}

/** A new user who creates organisation `name` from the Organisation page, which then shows it. */
async function ownerOfNewOrg(name: string): Promise<Profile> {
  const owner = await open("/signup");
  await signUpUi(owner.page, freshEmail());
  await owner.page
    .getByRole("navigation", { name: "Main" })
    .getByRole("link", { name: "Organisation" })
    .click();
  await owner.page.getByText("Your personal organisation is yours alone").waitFor();
  await owner.page.getByLabel("Organisation name").fill(name);
  await owner.page.getByRole("button", { name: "Create organisation" }).click();
  await owner.page.getByRole("heading", { name, level: 2 }).waitFor();
  return owner;
}

/** Removes the member shown as `email` (`item`: their list item), confirmed in the page's dialog. */
async function removeMember(page: Page, item: Locator, email: string): Promise<void> {
  await item.getByRole("button", { name: `Remove ${email}` }).click();
  await page
    .getByRole("dialog", { name: `Remove ${email}?` })
    .getByRole("button", { name: "Remove" })
    .click();
  await page.getByTestId("org-notice").getByText("Member removed.").waitFor();
}

const focusedTag = (page: Page) => page.evaluate(() => document.activeElement?.tagName ?? "");

/** The page's heading is there and nothing is still loading. */
async function settled(page: Page): Promise<void> {
  await page.getByRole("heading", { level: 1 }).first().waitFor();
  await page.waitForFunction(() => !/Loading /.test(document.body.textContent ?? ""));
}

describe("dashboard pages", () => {
  test("keyboard only: sign up, then connect Figma (a wrong key first)", async () => {
    const { page } = await open("/signup");
    const email = freshEmail();
    await page.getByRole("heading", { name: "Create an account" }).waitFor();
    await tabTo(page, /^Email/);
    await page.keyboard.type(email);
    await tabTo(page, /^Password/);
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press("Enter");
    await page.getByRole("button", { name: "Sign out" }).waitFor();

    await tabTo(page, /^Catalog$/);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Catalog", level: 1 }).waitFor();
    expect(await focusedTag(page)).toBe("H1");
    await tabTo(page, /^Connect Figma$/, 150);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Connect Figma", level: 1 }).waitFor();

    await tabTo(page, /Figma API key/);
    await page.keyboard.type("figd_wrong-key-typed-by-keyboard");
    await page.keyboard.press("Enter");
    await page.getByText("Figma did not accept this key").waitFor();
    // Focus went back to the field the error is about.
    expect(await page.evaluate(() => document.activeElement?.getAttribute("aria-invalid"))).toBe("true");

    const token = figmaKeyFor(stack, "keyboard");
    await page.keyboard.press("Control+A");
    await page.keyboard.type(token);
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: "Figma is connected" });
    await dialog.waitFor();
    expect(await dialog.evaluate((el) => el.contains(document.activeElement))).toBe(true);
    await tabTo(page, /Reveal URL/);
    await page.keyboard.press("Enter");
    await tabTo(page, /Copy instance URL/);
    await page.keyboard.press("Enter");
    await dialog.getByText("Copied to clipboard.").first().waitFor();
    const url = await clipboard(page);
    expect(url).toBe((await dialog.getByTestId("secret-value").textContent()) ?? "");
    expect(url.startsWith(`${stack.edgeUrl}/mcp_fig_`)).toBe(true);
    // Tabs are reached and switched with the keyboard too.
    await tabTo(page, /^Claude$/);
    await page.keyboard.press("ArrowRight");
    await dialog.getByTestId("snippet-claude-code").waitFor();
    await tabTo(page, /^Done$/);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Figma", level: 1 }).waitFor();
    expect(await page.getByRole("dialog").count()).toBe(0);
    expect(await focusedTag(page)).toBe("H1");
  }, 60_000);

  test("API keys, audit log and account, then every page at desktop and 390 px wide", async () => {
    const profile = await open("/signup");
    const { page } = profile;
    await signUpUi(page, freshEmail());
    const user: TestUser = { email: "", cookie: await cookieOf(profile.context), userId: "" };
    const { instanceUrl } = await connectFigma(stack, user, figmaKeyFor(stack, "pages"));
    const client = await mcpClient(instanceUrl);
    // More tool calls than one audit page holds.
    for (let i = 0; i < 27; i++) expect((await callTool(client, "get_me")).isError).toBe(false);

    // API keys: create with scopes and an expiry, shown once in a dialog; listed; revoked in-app.
    await page.goto(`${stack.controlPlaneUrl}/api-keys`);
    await page.getByText("No API keys yet.").waitFor();
    await page.getByLabel("Key name").fill("ci deploys");
    await page.getByRole("checkbox", { name: /org:admin/ }).uncheck();
    await page.getByLabel("Expires").selectOption("30");
    await page.getByRole("button", { name: "Create key" }).click();
    const created = page.getByRole("dialog", { name: "API key “ci deploys” created" });
    await created.getByText("Shown once").waitFor();
    const apiKey = (await created.getByTestId("api-key-value").textContent()) ?? "";
    await created.getByRole("button", { name: "Copy API key" }).click();
    await created.getByText("Copied to clipboard.").waitFor();
    expect(await clipboard(page)).toBe(apiKey);
    await screenshot(page, "api-key-dialog-desktop");
    await created.getByRole("button", { name: "Done" }).click();
    const listed = page.getByRole("list", { name: "API keys" }).getByRole("listitem");
    await listed.getByText("ci deploys", { exact: true }).first().waitFor();
    // Focus lands on the new key in the list (its item, by its data-key-id: never <body>, whose text has it too).
    await page.waitForFunction(
      () =>
        document.activeElement?.matches("li[data-key-id]") === true &&
        document.activeElement.textContent?.includes("ci deploys") === true,
    );
    expect(await listed.textContent()).toContain("instances:read, instances:write, usage:read, audit:read");
    expect(await listed.textContent()).toContain("last used never");
    expect(data<{ email: string }>(await trpc(stack, "auth.me", undefined, { apiKey })).email).toContain("@");
    await page.getByRole("button", { name: "Revoke ci deploys" }).click();
    await page
      .getByRole("dialog", { name: "Revoke “ci deploys”?" })
      .getByRole("button", { name: "Revoke key" })
      .click();
    await page.getByText("No API keys yet.").waitFor();
    expect(await page.getByRole("status").filter({ hasText: "Revoked “ci deploys”" }).count()).toBe(1);
    expect((await trpc(stack, "auth.me", undefined, { apiKey })).status).toBe(401);

    // Audit log: filters kept in the URL, cursor pages, a detail panel. The edge writes tool-call events in
    // batches (up to a second late): wait until the API has all of them.
    const toolCalls = async () =>
      data<{ items: unknown[] }>(
        await trpc(
          stack,
          "audit.list",
          { limit: 100, filters: { action: "tool.call" } },
          { cookie: user.cookie },
        ),
      ).items.length;
    for (let i = 0; i < 100 && (await toolCalls()) < 27; i++) await Bun.sleep(100);
    expect(await toolCalls()).toBe(27);
    await page.goto(`${stack.controlPlaneUrl}/audit`);
    await page.getByLabel("Action").selectOption("tool.call");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL(/action=tool\.call/);
    const rows = page.getByRole("table", { name: "Audit events" }).locator("tbody tr");
    await page.waitForFunction(() => document.querySelectorAll("tbody tr").length === 25, undefined, {
      timeout: 20_000,
    });
    await page.getByRole("button", { name: "Load more" }).click();
    await page.waitForFunction(() => document.querySelectorAll("tbody tr").length === 27);
    expect(await page.getByRole("button", { name: "Load more" }).count()).toBe(0);
    for (const text of await rows.locator("td:nth-child(2)").allTextContents())
      expect(text).toBe("tool.call");
    await page.reload();
    await page.waitForFunction(() => document.querySelectorAll("tbody tr").length === 25);
    expect(await page.getByLabel("Action").inputValue()).toBe("tool.call");
    await rows
      .first()
      .getByRole("button", { name: /Details/ })
      .click();
    const detail = page.getByRole("dialog", { name: "tool.call · ok" });
    await detail.getByText("get_me").waitFor();
    await detail.getByText("Request id").waitFor();
    await screenshot(page, "audit-detail-desktop");
    await detail.getByRole("button", { name: "Close" }).click();
    await page.getByLabel("Action").selectOption("api_key.revoke");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForFunction(() => document.querySelectorAll("tbody tr").length === 1);

    // A list that fails shows the error in words with its code and the answer's request id, and a retry.
    const failed = page.waitForResponse((r) => r.url().includes("audit.list"));
    await page.goto(`${stack.controlPlaneUrl}/audit?status=%20`);
    const requestId = (await failed).headers()["x-request-id"] ?? "missing";
    const alert = page.getByRole("alert").filter({ hasText: "Error BAD_REQUEST" });
    await alert.waitFor();
    expect(await alert.getByTestId("request-id").textContent()).toBe(requestId);
    expect(await alert.getByRole("button", { name: "Try again" }).count()).toBe(1);

    // Account: sessions; a wrong current password is marked on the field.
    await page.goto(`${stack.controlPlaneUrl}/account`);
    await page.getByText("This browser").waitFor();
    await page.getByLabel("Current password").fill("not my password at all");
    await page.getByLabel("New password").fill("another good password");
    await page.getByRole("button", { name: "Change password" }).click();
    await page.getByRole("alert").waitFor();
    expect(await page.getByLabel("Current password").getAttribute("aria-invalid")).toBe("true");

    // A service that needs more than a key asks for it, with the definition's rules.
    await page.goto(`${stack.controlPlaneUrl}/connect/jira`);
    const site = page.getByLabel("Jira site");
    expect(await site.getAttribute("required")).not.toBeNull();
    expect(await site.getAttribute("pattern")).toContain("atlassian");
    expect(await page.getByLabel("Atlassian account email").getAttribute("type")).toBe("text");

    // Instance settings: display name, tool allowlist, read-only mode, rate limit; the edge applies them.
    await page.goto(`${stack.controlPlaneUrl}/instances/figma`);
    const settings = page.getByRole("form", { name: "Settings" });
    await settings.getByLabel("Display name").fill("Design files");
    await settings.getByRole("checkbox", { name: "All tools" }).uncheck();
    await settings.getByRole("checkbox", { name: "post_comment" }).uncheck();
    await settings.getByRole("checkbox", { name: /Read-only mode/ }).check();
    await settings.getByLabel("Rate limit (calls per minute)").fill("500");
    await settings.getByRole("button", { name: "Save settings" }).click();
    await settings.getByText("Settings saved.").waitFor();
    await page.getByRole("heading", { name: "Design files", level: 1 }).waitFor();
    const saved = data<
      { displayName: string; toolAllowlist: string[]; readOnly: boolean; rateLimitPerMinute: number }[]
    >(await trpc(stack, "instances.list", undefined, { cookie: user.cookie }))[0];
    expect(saved).toMatchObject({ displayName: "Design files", readOnly: true, rateLimitPerMinute: 500 });
    const figmaTools = data<{ type: string; tools: { name: string }[] }[]>(await trpc(stack, "services.list"))
      .find((x) => x.type === "figma")
      ?.tools.map((t) => t.name);
    expect(saved?.toolAllowlist?.sort()).toEqual(figmaTools?.filter((t) => t !== "post_comment").sort());
    expect(saved?.toolAllowlist?.length).toBeGreaterThan(1);
    const offered = (await (await mcpClient(instanceUrl)).listTools()).tools.map((t) => t.name);
    expect(offered).not.toContain("post_comment");
    expect(offered).toContain("get_me");
    // The audit log says what the save changed, with the new values (never the display name's text).
    await page.goto(`${stack.controlPlaneUrl}/audit?action=instance.settings`);
    await page
      .getByRole("table", { name: "Audit events" })
      .getByRole("button", { name: /Details/ })
      .click();
    const change = page.getByRole("dialog", { name: "instance.settings · ok" });
    const field = async (label: string) =>
      (await change
        .locator("dt", { hasText: new RegExp(`^${label}$`) })
        .locator("+ dd")
        .textContent()) ?? "";
    await change.getByText("Changed").waitFor();
    expect(await field("Changed")).toContain("Display name");
    expect(await field("Changed")).toContain("Read-only");
    expect(await field("Read-only")).toBe("yes");
    expect(await field("Calls per minute")).toBe("500");
    expect(await field("Allowed tools")).toContain("get_me");
    expect(await field("Allowed tools")).not.toContain("post_comment");
    expect(await change.textContent()).not.toContain("Design files");
    await change.getByRole("button", { name: "Close" }).click();

    // Every page, desktop then phone: no horizontal page scroll, a screenshot of each.
    const pages = [
      "/",
      "/catalog",
      "/connect/figma",
      "/connect/custom",
      "/instances",
      "/instances/figma",
      "/usage",
      "/audit",
      "/api-keys",
      "/account",
    ];
    for (const path of pages) {
      const name = path === "/" ? "overview" : path.slice(1).replaceAll("/", "-");
      await page.setViewportSize(DESKTOP);
      await page.goto(`${stack.controlPlaneUrl}${path}`);
      await settled(page);
      await expectNoHorizontalScroll(page, `${path} desktop`);
      await screenshot(page, `${name}-desktop`);
      await page.setViewportSize(PHONE);
      await page.waitForFunction((w) => window.innerWidth === w, PHONE.width);
      await expectNoHorizontalScroll(page, `${path} at 390 px`);
      await screenshot(page, `${name}-phone`);
      await page.setViewportSize({ width: 360, height: 740 });
      await page.waitForFunction(() => window.innerWidth === 360);
      await expectNoHorizontalScroll(page, `${path} at 360 px`);
    }
    // Dark mode follows the system.
    await page.emulateMedia({ colorScheme: "dark" });
    await page.goto(`${stack.controlPlaneUrl}/instances/figma`);
    await settled(page);
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe(
      "rgb(15, 15, 17)",
    );
    await screenshot(page, "instances-figma-phone-dark");
    await page.emulateMedia({ colorScheme: "light" });

    // The instances table turns into cards on a phone, with the same facts.
    await page.goto(`${stack.controlPlaneUrl}/instances`);
    const card = page.getByRole("list", { name: "Instances" }).getByRole("listitem");
    await card.getByText("Working").waitFor();
    expect(await page.getByRole("table", { name: "Instances" }).count()).toBe(0);
    // The once-only dialog fits a phone too (rotate issues one).
    await page.goto(`${stack.controlPlaneUrl}/instances/figma`);
    await page.getByRole("button", { name: "Rotate URL" }).click();
    await page
      .getByRole("dialog", { name: "Rotate the Design files URL?" })
      .getByRole("button", { name: "Rotate URL" })
      .click();
    const rotated = page.getByRole("dialog", { name: "New Design files URL" });
    await rotated.getByRole("tab", { name: "curl" }).click();
    await expectNoHorizontalScroll(page, "new URL dialog at 390 px");
    await screenshot(page, "connected-dialog-phone");
    await rotated.getByRole("button", { name: "Done" }).click();

    // Signed out: the sign-in and sign-up pages.
    const visitor = await open("/signin", PHONE);
    for (const path of ["/signin", "/signup"]) {
      await visitor.page.goto(`${stack.controlPlaneUrl}${path}`);
      await settled(visitor.page);
      await expectNoHorizontalScroll(visitor.page, `${path} at 390 px`);
      await screenshot(visitor.page, `${path.slice(1)}-phone`);
      await visitor.page.setViewportSize(DESKTOP);
      await expectNoHorizontalScroll(visitor.page, `${path} desktop`);
      await screenshot(visitor.page, `${path.slice(1)}-desktop`);
      await visitor.page.setViewportSize(PHONE);
    }
    // A deep link while signed out comes back after sign-in.
    await visitor.page.goto(`${stack.controlPlaneUrl}/usage?range=30`);
    await visitor.page.waitForURL(/\/signin\?next=/);
  }, 90_000);

  test("organisation: create, invite by link, join, change role, remove; the switcher follows", async () => {
    const owner = await ownerOfNewOrg("Acme Design");
    // The switcher appears once there is a choice, on the new organisation.
    const switcher = owner.page.getByRole("banner").getByLabel("Organisation");
    await switcher.waitFor();
    expect(await switcher.locator("option:checked").textContent()).toBe("Acme Design");

    await owner.page.getByRole("button", { name: "Create invitation link" }).click();
    const linkDialog = owner.page.getByRole("dialog", { name: "Invitation link" });
    const link = (await linkDialog.getByTestId("invite-link").textContent()) ?? "";
    expect(link).toMatch(new RegExp(`^${stack.controlPlaneUrl}/invite/org_[A-Za-z0-9_-]+/inv_`));
    await linkDialog.getByRole("button", { name: "Copy invitation link" }).click();
    expect(await clipboard(owner.page)).toBe(link);
    await linkDialog.getByRole("button", { name: "Done" }).click();
    await owner.page.getByRole("button", { name: "Revoke invitation for a member" }).waitFor();

    // The invitee opens the link signed out, signs up, and comes back to join.
    const invitee = await open(new URL(link).pathname, PHONE);
    await invitee.page.waitForURL(/\/signin\?next=%2Finvite%2F/);
    const inviteeEmail = freshEmail();
    await signUpUi(invitee.page, inviteeEmail);
    await invitee.page.getByRole("heading", { name: "Join an organisation" }).waitFor();
    await expectNoHorizontalScroll(invitee.page, "invite at 390 px");
    await screenshot(invitee.page, "invite-phone");
    await invitee.page.getByRole("button", { name: "Join organisation" }).click();
    await invitee.page.getByRole("heading", { name: "Acme Design", level: 2 }).waitFor();
    await invitee.page.getByText("Your role: member").waitFor();
    // With a choice of organisations the header carries the switcher, and still fits a phone.
    await invitee.page.getByRole("banner").getByLabel("Organisation").waitFor();
    await expectNoHorizontalScroll(invitee.page, "organisation page with the switcher at 390 px");
    await screenshot(invitee.page, "org-phone");
    expect(await invitee.page.getByRole("list", { name: "Members" }).count()).toBe(0);

    // The owner sees the member, makes them admin, then removes them, all confirmed in-app.
    await owner.page.reload();
    const member = owner.page
      .getByRole("list", { name: "Members" })
      .getByRole("listitem")
      .filter({ hasText: inviteeEmail });
    await member.waitFor();
    await member.getByLabel(`Role of ${inviteeEmail}`).selectOption("admin");
    await owner.page.getByTestId("org-notice").getByText("Role changed.").waitFor();
    await screenshot(owner.page, "org-members-desktop");
    await removeMember(owner.page, member, inviteeEmail);
    await owner.page.waitForFunction(
      () => document.activeElement?.getAttribute("data-testid") === "org-notice",
    );
    expect(await member.count()).toBe(0);

    // The removed member's dashboard falls back to their personal organisation, with no error.
    await invitee.page.reload();
    await invitee.page.getByText("Your personal organisation is yours alone").waitFor();
    expect(await invitee.page.getByRole("banner").getByLabel("Organisation").count()).toBe(0);
  }, 60_000);

  test("organisation lists longer than a page: 'Show more' asks for the next page; a change keeps every page shown", async () => {
    const name = `Large ${crypto.randomUUID().slice(0, 8)}`;
    const owner = await ownerOfNewOrg(name);

    // 150 members, each with an instance, inserted directly: signing 150 people up would take minutes.
    // Inserted in one statement, they share one joinedAt: the pages part them by id alone.
    const db = stack.platform.deps.db;
    const [org] = await db.select().from(organizations).where(eq(organizations.name, name));
    if (!org) throw new Error("the organisation was not made");
    const ids = Array.from({ length: 150 }, () => newId("usr"));
    seeded.push(...ids);
    const emails = new Map(ids.map((id, n) => [id, `member-${String(n).padStart(3, "0")}-${id}@x.test`]));
    await db
      .insert(users)
      .values(ids.map((id) => ({ id, email: emails.get(id) ?? "", passwordHash: "unused" })));
    await db
      .insert(orgMembers)
      .values(ids.map((userId) => ({ orgId: org.id, userId, role: "member" as const })));
    const creds = ids.map((userId) => ({
      id: newId("cred"),
      userId,
      orgId: org.id,
      serviceType: "figma",
      keyVersion: 1,
      ciphertext: "never decrypted by this test",
    }));
    await db.insert(credentials).values(creds);
    await db.insert(instances).values(
      creds.map((c) => ({
        id: newId("ins"),
        userId: c.userId,
        orgId: org.id,
        serviceType: "figma",
        credentialId: c.id,
        tokenHash: crypto.randomUUID(),
      })),
    );

    await owner.page.reload();
    const members = owner.page.getByRole("list", { name: "Members" }).getByRole("listitem");
    const insts = owner.page.getByRole("list", { name: "Member instances" }).getByRole("listitem");
    await owner.page.getByText("Showing the first 100 members.").waitFor();
    await owner.page.getByText("Showing the first 100 instances.").waitFor();
    expect(await members.count()).toBe(100);
    expect(await insts.count()).toBe(100);

    await owner.page.getByRole("button", { name: "Show more members" }).click();
    await members.nth(150).waitFor(); // the owner and the 150
    await owner.page
      .getByRole("button", { name: /Show more members|Loading/ })
      .waitFor({ state: "detached" });
    // Focus went to the first member the page brought, not to <body> with the button gone.
    await owner.page.waitForFunction(() => document.activeElement?.hasAttribute("data-member-row") === true);
    expect(await members.nth(100).evaluate((li) => li === document.activeElement)).toBe(true);
    expect(await members.count()).toBe(151);
    // Every member once: the second page starts after the first's last item, none repeated or skipped.
    const shown = await members.allTextContents();
    const seen = ids.filter((id) => shown.some((t) => t.includes(emails.get(id) ?? "?")));
    expect(seen.length).toBe(150);
    await owner.page.getByRole("button", { name: "Show more instances" }).click();
    await insts.nth(149).waitFor();
    await owner.page
      .getByRole("button", { name: /Show more instances|Loading/ })
      .waitFor({ state: "detached" });
    expect(await insts.count()).toBe(150);
    await expectNoHorizontalScroll(owner.page, "organisation page with 150 members");

    // A member of the second page is removed: the refresh asks again for both pages, and the lists stay whole.
    const last = members.last();
    const lastEmail = (await last.textContent())?.split(" ")[0] ?? "";
    expect([...emails.values()]).toContain(lastEmail);
    await removeMember(owner.page, last, lastEmail);
    expect(await members.count()).toBe(150);
    expect(await members.filter({ hasText: lastEmail }).count()).toBe(0);
    expect(await insts.count()).toBe(150);
    expect(await insts.filter({ hasText: lastEmail }).filter({ hasText: "revoked" }).count()).toBe(1);
  }, 60_000);
});
