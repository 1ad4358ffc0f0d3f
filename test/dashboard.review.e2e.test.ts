// What a demanding user and an accessibility review found in the dashboard, each pinned by a check: an
// organisation left elsewhere mid-session, focus after "Load more" / a role change / a refused form, a filter
// from the address shown as applied, long names wrapping, a page acting on something deleted elsewhere, a
// refused custom header named on its own field, and a reconnect with another account's key.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { ensureDashboardBuilt } from "../scripts/dashboard-build.ts";
import { connectFigma, data, figmaKeyFor, newUser, type TestUser, trpc } from "./client.ts";
import {
  closeProfiles,
  cookieOf,
  freshEmail,
  launchBrowser,
  openProfile,
  PASSWORD,
  PHONE,
  type Profile,
  signUpUi,
} from "./dashboard/browser.ts";
import { type Stack, startStack } from "./harness.ts";

let stack: Stack;
let browser: Browser;
const profiles: Profile[] = [];

beforeAll(async () => {
  await ensureDashboardBuilt();
  [stack, browser] = await Promise.all([startStack(), launchBrowser()]);
}, 120_000);

afterAll(async () => {
  await closeProfiles(profiles);
  await browser?.close();
  await stack?.stop();
});

/** A new user signed up through the form, with the session cookie for API calls made as them. */
async function signedUp(viewport?: {
  width: number;
  height: number;
}): Promise<{ page: Page; user: TestUser }> {
  const profile = await openProfile(browser, `${stack.controlPlaneUrl}/signup`, viewport);
  profiles.push(profile);
  const email = freshEmail();
  await signUpUi(profile.page, email);
  const cookie = await cookieOf(profile.context);
  const me = data<{ id: string }>(await trpc(stack, "auth.me", undefined, { cookie }));
  return { page: profile.page, user: { email, cookie, userId: me.id } };
}

/** A description of what has focus once it settles on an element matching `selector` (bounded), for the assertion. */
async function focusSettles(page: Page, selector: string): Promise<string> {
  await page
    .waitForFunction((sel) => document.activeElement?.matches(sel) ?? false, selector, { timeout: 5_000 })
    .catch(() => undefined);
  return page.evaluate(() => {
    const el = document.activeElement;
    return `${el?.tagName} ${el?.id ?? ""} ${(el?.textContent ?? "").replace(/\s+/g, " ").trim().slice(0, 60)}`;
  });
}

/**
 * The elements that reach past the right edge of the window (the main navigation aside, which scrolls on its own):
 * a long name that does not wrap. Empty when the page fits.
 */
function spillingOut(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll("body *")]
      .filter((el) => !el.closest("nav") && el.getBoundingClientRect().right > window.innerWidth + 1)
      .map((el) => `${el.tagName} ${(el.textContent ?? "").slice(0, 40)}`),
  );
}

/** An organisation of `owner`'s with `member` in it (invited and joined through the API). */
async function orgWith(owner: TestUser, member: TestUser, name: string): Promise<string> {
  const { orgId } = data<{ orgId: string }>(
    await trpc(stack, "orgs.create", { name }, { cookie: owner.cookie }),
  );
  const invite = data<{ token: string }>(
    await trpc(stack, "orgs.invite", { orgId, role: "member" }, { cookie: owner.cookie, orgId }),
  );
  const joined = await trpc(
    stack,
    "orgs.acceptInvitation",
    { orgId, token: invite.token },
    { cookie: member.cookie },
  );
  expect(joined.status).toBe(200);
  return orgId;
}

describe("dashboard review", () => {
  test("removed from the organisation it acts in, elsewhere: the dashboard falls back to the personal one and says so", async () => {
    const { page, user } = await signedUp();
    const owner = await newUser(stack);
    const name = `Removal ${crypto.randomUUID().slice(0, 8)}`;
    const orgId = await orgWith(owner, user, name);
    await page.reload();
    const switcher = page.getByRole("banner").getByLabel("Organisation");
    await switcher.selectOption({ label: name });
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Instances" }).click();
    await page.getByText("No instances yet.").waitFor();

    // The owner removes them while the page is open; the next page they open is their personal organisation's.
    const removed = await trpc(
      stack,
      "orgs.removeMember",
      { orgId, userId: user.userId },
      { cookie: owner.cookie, orgId },
    );
    expect(removed.status).toBe(200);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "API keys" }).click();
    await page.getByTestId("org-lost").waitFor();
    await page.getByText("No API keys yet.").waitFor();
    expect(await page.getByText("Organisation not found").count()).toBe(0);
    expect(await page.evaluate(() => localStorage.getItem("mcp.activeOrg"))).toBeNull();
  }, 60_000);

  test("audit: Load more hands focus to the first new event; an instance filter from the address shows as applied", async () => {
    const { page, user } = await signedUp();
    for (let i = 0; i < 27; i++) {
      expect((await trpc(stack, "apiKeys.create", { name: `k${i}` }, { cookie: user.cookie })).status).toBe(
        200,
      );
    }
    await page.goto(`${stack.controlPlaneUrl}/audit`);
    const more = page.getByRole("button", { name: "Load more" });
    await more.focus();
    await page.keyboard.press("Enter");
    const rows = page.locator("table[aria-label='Audit events'] tbody tr");
    await rows.nth(25).waitFor();
    const now = await focusSettles(page, "[data-audit-row] button");
    expect(now).toMatch(/^BUTTON .*Details/);
    // The 26th row's: the first the second page brought.
    expect(
      await rows
        .nth(25)
        .getByRole("button")
        .evaluate((b) => b === document.activeElement),
    ).toBe(true);

    // Opened from an address (the instance list loads after the form), and for an instance since deleted.
    const live = await connectFigma(stack, user, figmaKeyFor(stack, "audit-live"));
    await page.goto(`${stack.controlPlaneUrl}/audit?instanceId=${live.instanceId}`);
    const select = page.getByLabel("Instance");
    const table = page.getByRole("table", { name: "Audit events" });
    await table.getByText("instance.connect").first().waitFor();
    await page.waitForFunction(() => !document.body.textContent?.includes("Loading"));
    expect(await select.inputValue()).toBe(live.instanceId);
    expect(await select.locator("option:checked").textContent()).toBe("Figma");
    const deleted = await trpc(stack, "instances.delete", { serviceType: "figma" }, { cookie: user.cookie });
    expect(deleted.status).toBe(200);
    await page.reload();
    await table.getByText("instance.delete").first().waitFor();
    expect(await select.inputValue()).toBe(live.instanceId);
    // Applying another filter keeps it.
    await page.getByLabel("Status").fill("ok");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL((u) => u.searchParams.get("status") === "ok");
    expect(new URL(page.url()).searchParams.get("instanceId")).toBe(live.instanceId);
  }, 60_000);

  test("audit: a filter chosen while the instance list still loads is kept when it arrives, and applied", async () => {
    const { page } = await signedUp();
    // The instance list is held until a filter has been chosen (a slow answer, a busy server).
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const listCall = /\/trpc\/[^?]*instances\.list/;
    let asked!: () => void;
    const listAsked = new Promise<void>((resolve) => {
      asked = resolve;
    });
    await page.route(listCall, async (route) => {
      asked();
      await held;
      await route.continue().catch(() => {});
    });
    try {
      await page.goto(`${stack.controlPlaneUrl}/audit`);
      await listAsked;
      await page.getByLabel("Action").selectOption("tool.call");
      release();
      await page.waitForFunction(() => !document.body.textContent?.includes("Loading"));
      expect(await page.getByLabel("Action").inputValue()).toBe("tool.call");
      await page.getByRole("button", { name: "Apply" }).click();
      await page.waitForURL(/action=tool\.call/);
    } finally {
      release();
      await page.unroute(listCall);
    }
  }, 60_000);

  test("focus stays with the user: a role changed from the keyboard, a refused organisation or key name, a dead link", async () => {
    const { page, user } = await signedUp();
    const member = await newUser(stack);
    // A long name without a space (80 characters, the most) wraps in the page rather than spill out of it.
    const name = `Roles-${crypto.randomUUID().slice(0, 8)}-${"W".repeat(65)}`;
    const orgId = await orgWith(user, member, name);
    await page.reload();
    await page.getByRole("banner").getByLabel("Organisation").selectOption({ label: name });
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Organisation" }).click();
    const orgHeading = page.getByRole("heading", { name, level: 2 });
    expect(await orgHeading.evaluate((h) => h.scrollWidth <= h.clientWidth)).toBe(true);
    const role = page.getByLabel(`Role of ${member.email}`);
    await role.focus();
    await page.keyboard.press("ArrowUp"); // member → admin
    await page.getByTestId("org-notice").getByText("Role changed.").waitFor();
    expect(await focusSettles(page, "select")).toMatch(/^SELECT role-/);
    expect(await role.inputValue()).toBe("admin");

    // A name of spaces only is refused by the server: the field it concerns takes focus, marked.
    const orgName = page.getByLabel("Organisation name");
    await orgName.fill("   ");
    await page.getByRole("button", { name: "Create organisation" }).click();
    await page.getByRole("alert").getByText("name is required").waitFor();
    expect(await focusSettles(page, "input")).toMatch(/^INPUT /);
    expect(await orgName.evaluate((el) => el === document.activeElement)).toBe(true);
    expect(await orgName.getAttribute("aria-invalid")).toBe("true");

    // An invitation link that does not work: the refusal is said, and focus stays on the button.
    await page.goto(`${stack.controlPlaneUrl}/invite/${orgId}/inv_${"x".repeat(43)}`);
    const join = page.getByRole("button", { name: "Join organisation" });
    await join.click();
    await page.getByRole("alert").getByText("NOT_FOUND").waitFor();
    await focusSettles(page, "button");
    expect(await join.evaluate((el) => el === document.activeElement)).toBe(true);

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "API keys" }).click();
    const keyName = page.getByLabel("Key name");
    await keyName.fill("   ");
    await page.getByRole("button", { name: "Create key" }).click();
    await page.getByRole("alert").getByText("Give the key a name").waitFor();
    await focusSettles(page, "input");
    expect(await keyName.evaluate((el) => el === document.activeElement)).toBe(true);
  }, 60_000);

  test("long names wrap on a phone; acting on an instance deleted elsewhere shows what is there now", async () => {
    const { page, user } = await signedUp(PHONE);
    // An upstream account with a long name too ("connected as …").
    await connectFigma(stack, user, figmaKeyFor(stack, "W".repeat(60)));
    const long = `D${"y".repeat(79)}`;
    const named = await trpc(
      stack,
      "instances.updateSettings",
      { serviceType: "figma", displayName: long },
      { cookie: user.cookie },
    );
    expect(named.status).toBe(200);
    await page.goto(`${stack.controlPlaneUrl}/instances`);
    await page.getByRole("link", { name: long }).first().waitFor();
    expect(await spillingOut(page)).toEqual([]);
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.getByRole("table", { name: "Instances" }).waitFor();
    expect(await spillingOut(page)).toEqual([]);
    await page.setViewportSize(PHONE);
    await page.goto(`${stack.controlPlaneUrl}/instances/figma`);
    const heading = page.getByRole("heading", { name: long, level: 1 });
    await heading.waitFor();
    expect(await heading.evaluate((h) => h.scrollWidth <= h.clientWidth)).toBe(true);
    expect(await spillingOut(page)).toEqual([]);
    await page.getByRole("button", { name: "Rotate URL" }).click();
    const title = page.getByRole("dialog").getByRole("heading");
    expect(await title.evaluate((h) => h.scrollWidth <= h.clientWidth)).toBe(true);

    // Deleted from another tab meanwhile: the refusal refreshes the page, which no longer offers the instance.
    const deleted = await trpc(stack, "instances.delete", { serviceType: "figma" }, { cookie: user.cookie });
    expect(deleted.status).toBe(200);
    await page.getByRole("dialog").getByRole("button", { name: "Rotate URL" }).click();
    await page.getByText("You have no Figma instance.").waitFor();
    expect(await page.getByRole("button", { name: "Rotate URL" }).count()).toBe(0);
    expect(await focusSettles(page, "h1")).toMatch(/^H1 /);

    // Usage per day is per UTC day, and says so.
    await page.goto(`${stack.controlPlaneUrl}/usage`);
    await page.getByText("Days are UTC days.").waitFor();
  }, 60_000);

  test("custom server: a refused header is named on its own field; a reconnect with another account's key offers a new URL", async () => {
    const { page, user } = await signedUp();
    await page.goto(`${stack.controlPlaneUrl}/connect/custom`);
    const form = page.getByRole("form", { name: "Connect Custom MCP server" });
    await form.getByLabel("Name", { exact: true }).fill("Mine");
    await form.getByLabel("Server URL", { exact: true }).fill("https://mcp.example.test/mcp");
    await form.getByRole("button", { name: "Add header" }).click();
    const headerName = form.getByLabel("Header 2 name", { exact: true });
    await headerName.fill("Mcp-Protocol-Version");
    await form.getByLabel("Header 2 value", { exact: true }).fill("2025-06-18");
    await form.getByRole("button", { name: "Connect Custom MCP server" }).click();
    const alert = form.getByRole("alert");
    await alert.getByText("Mcp-Protocol-Version").waitFor();
    expect(await alert.textContent()).toContain("BAD_REQUEST");
    expect(await headerName.getAttribute("aria-invalid")).toBe("true");
    expect(await form.getByLabel("Server URL", { exact: true }).getAttribute("aria-invalid")).toBeNull();
    await focusSettles(page, "input");
    expect(await headerName.evaluate((el) => el === document.activeElement)).toBe(true);

    // Reconnect with a key of another Figma account: the advice ("connect it as new") is one click away.
    const first = await connectFigma(stack, user, figmaKeyFor(stack, "first-account"));
    await page.goto(`${stack.controlPlaneUrl}/connect/figma?reconnect=1`);
    await page.getByLabel("Figma API key").fill(figmaKeyFor(stack, "second-account"));
    await page.getByRole("button", { name: /Save the new key/ }).click();
    await page.getByText("This key belongs to another Figma account.").waitFor();
    await page.getByRole("button", { name: "Connect this account instead (new URL)" }).click();
    const dialog = page.getByRole("dialog", { name: "Figma is connected" });
    await dialog.getByRole("button", { name: "Reveal URL" }).click();
    const url = (await dialog.getByTestId("secret-value").textContent()) ?? "";
    expect(url.startsWith(`${stack.edgeUrl}/mcp_fig_`)).toBe(true);
    expect(url).not.toBe(first.instanceUrl);
  }, 60_000);

  test("account: revoking a session already ended elsewhere says so, keeps focus off <body>; the list follows a password change", async () => {
    const { page, user } = await signedUp();
    // A second session of the same user (another browser), ended from a third place while the page shows it.
    const other = await trpc(stack, "auth.signIn", { email: user.email, password: PASSWORD });
    expect(other.status).toBe(200);
    await page.goto(`${stack.controlPlaneUrl}/account`);
    const rows = page.getByRole("list", { name: "Sessions" }).getByRole("listitem");
    await rows.nth(1).waitFor();
    const sessions = data<{ id: string; current: boolean }[]>(
      await trpc(stack, "account.sessions", undefined, { cookie: user.cookie }),
    );
    const target = sessions.find((s) => !s.current);
    if (!target) throw new Error("no second session");
    const ended = await trpc(stack, "account.revokeSession", { id: target.id }, { cookie: user.cookie });
    expect(ended.status).toBe(200);

    await rows.getByRole("button", { name: /^Revoke/ }).click();
    await page.getByRole("alert").getByText("NOT_FOUND").waitFor();
    expect(await focusSettles(page, "h2")).toMatch(/^H2 .*Sessions/);
    await page.waitForFunction(() => document.querySelectorAll("[aria-label=Sessions] li").length === 1);

    // A password change signs every other session out: the list on the same page says so at once.
    expect((await trpc(stack, "auth.signIn", { email: user.email, password: PASSWORD })).status).toBe(200);
    await page.reload();
    await rows.nth(1).waitFor();
    await page.getByLabel("Current password").fill(PASSWORD);
    await page.getByLabel("New password").fill(`${PASSWORD} again`);
    await page.getByRole("button", { name: "Change password" }).click();
    await page.getByText("Password changed.").waitFor();
    await page.waitForFunction(() => document.querySelectorAll("[aria-label=Sessions] li").length === 1);
  }, 60_000);
});
