// The dashboard's promises where they are easiest to break: focus after every dialog (back to what opened it,
// or on the action's result; never <body>), a newly issued URL masked, addresses the pages cannot read (audit
// filters, sign-in's ?next=) never crashing a page, an ended session sent to sign-in, errors with their code
// and request id on the right field, the browser checking a definition's pattern, and the copy.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { ensureDashboardBuilt } from "../scripts/dashboard-build.ts";
import { connectFigma, figmaKeyFor, newUser, type TestUser, trpc } from "./client.ts";
import {
  closeProfiles,
  cookieOf,
  freshEmail,
  launchBrowser,
  openProfile,
  PASSWORD,
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

async function open(path: string): Promise<Profile> {
  const profile = await openProfile(browser, `${stack.controlPlaneUrl}${path}`);
  profiles.push(profile);
  return profile;
}

/** A new user signed up through the form, with the session cookie for API calls made as them. */
async function signedUp(): Promise<{ profile: Profile; page: Page; user: TestUser }> {
  const profile = await open("/signup");
  const email = freshEmail();
  await signUpUi(profile.page, email);
  const user: TestUser = { email, cookie: await cookieOf(profile.context), userId: "" };
  return { profile, page: profile.page, user };
}

interface Focused {
  tag: string;
  /** Its text, whitespace collapsed (a button's visually hidden words included). */
  text: string;
  testId: string;
  role: string;
  keyId: string;
  invalid: string;
  /** Inside an open dialog. */
  inDialog: boolean;
  /** Holds an alert (the box an error is shown in). */
  holdsAlert: boolean;
}

const focused = (page: Page): Promise<Focused> =>
  page.evaluate(() => {
    const el = document.activeElement;
    return {
      tag: el?.tagName ?? "",
      text: (el?.textContent ?? "").replace(/\s+/g, " ").trim(),
      testId: el?.getAttribute("data-testid") ?? "",
      role: el?.getAttribute("role") ?? "",
      keyId: el?.getAttribute("data-key-id") ?? "",
      invalid: el?.getAttribute("aria-invalid") ?? "",
      inDialog: el?.closest("[role=dialog]") != null,
      holdsAlert: el?.querySelector("[role=alert]") != null,
    };
  });

type Want = { [K in keyof Focused]?: Focused[K] | RegExp };

const fits = (now: Focused, want: Want) =>
  Object.entries(want).every(([k, v]) => {
    const got = now[k as keyof Focused];
    return v instanceof RegExp ? typeof got === "string" && v.test(got) : got === v;
  });

/**
 * Focus settles on an element like `want` (focus moves a frame or a task after a dialog closes). Never <body>:
 * every check names a tag, a role or an attribute that <body> does not have.
 */
async function expectFocus(page: Page, want: Want): Promise<Focused> {
  let now = await focused(page);
  for (let i = 0; i < 60 && !fits(now, want); i++) {
    await Bun.sleep(50);
    now = await focused(page);
  }
  expect({ focused: now, fits: fits(now, want) }).toEqual({ focused: now, fits: true });
  expect(now.tag).not.toBe("BODY");
  return now;
}

const crashed = async (page: Page) =>
  /Unexpected Application Error|External navigation/.test((await page.textContent("body")) ?? "");

describe("dashboard behaviour", () => {
  test("instance page: Escape on the rotate confirmation returns focus; each new URL starts masked", async () => {
    const { page, user } = await signedUp();
    await connectFigma(stack, user, figmaKeyFor(stack, "rotate-twice"));
    await page.goto(`${stack.controlPlaneUrl}/instances/figma`);
    const rotateButton = page.getByRole("button", { name: "Rotate URL" });
    const confirm = page.getByRole("dialog", { name: "Rotate the Figma URL?" });

    await rotateButton.click();
    await confirm.waitFor();
    await page.keyboard.press("Escape");
    await confirm.waitFor({ state: "detached" });
    await expectFocus(page, { tag: "BUTTON", text: "Rotate URL", inDialog: false });

    const rotate = async () => {
      await rotateButton.click();
      await confirm.getByRole("button", { name: "Rotate URL" }).click();
      const dialog = page.getByRole("dialog", { name: "New Figma URL" });
      await dialog.waitFor();
      return dialog;
    };
    // The first new URL, revealed.
    let dialog = await rotate();
    await dialog.getByRole("button", { name: "Reveal URL" }).click();
    const first = (await dialog.getByTestId("secret-value").textContent()) ?? "";
    expect(first.startsWith(`${stack.edgeUrl}/mcp_fig_`)).toBe(true);
    await dialog.getByRole("button", { name: "Done" }).click();
    await expectFocus(page, { testId: "notice" });

    // The second starts masked again, its snippets too.
    dialog = await rotate();
    const secret = dialog.getByTestId("secret-value");
    expect(await secret.getAttribute("data-revealed")).toBe("false");
    const masked = (await secret.textContent()) ?? "";
    expect(masked).toContain("••••");
    expect(await dialog.getByRole("button", { name: "Reveal URL" }).getAttribute("aria-pressed")).toBe(
      "false",
    );
    expect(await dialog.getByTestId("snippet-claude").textContent()).toBe(masked);
    await dialog.getByRole("button", { name: "Reveal URL" }).click();
    const second = (await secret.textContent()) ?? "";
    expect(second.startsWith(`${stack.edgeUrl}/mcp_fig_`)).toBe(true);
    expect(second).not.toBe(first);
    expect(masked).not.toContain(second);
    await dialog.getByRole("button", { name: "Done" }).click();
    await expectFocus(page, { testId: "notice" });
  }, 60_000);

  test("audit log: Close and Escape on an event's details return focus to its Details button", async () => {
    const { page, user } = await signedUp();
    await connectFigma(stack, user, figmaKeyFor(stack, "focus"));

    // The details are opened from a row of the (filtered) log.
    await page.goto(`${stack.controlPlaneUrl}/audit?action=instance.connect`);
    const details = page
      .getByRole("table", { name: "Audit events" })
      .getByRole("button", { name: /Details/ });
    const detail = page.getByRole("dialog", { name: "instance.connect · ok" });
    await details.click();
    await detail.getByRole("button", { name: "Close" }).click();
    await detail.waitFor({ state: "detached" });
    await expectFocus(page, { tag: "BUTTON", text: /^Details of instance\.connect/ });
    await details.click();
    await detail.waitFor();
    await page.keyboard.press("Escape");
    await detail.waitFor({ state: "detached" });
    await expectFocus(page, { tag: "BUTTON", text: /^Details of instance\.connect/ });
  }, 60_000);

  test("account: Cancel returns focus; a wrong password (Enter) focuses the field; errors on the right field", async () => {
    const { page } = await signedUp();
    // Cancel returns to the button that opened the confirmation.
    await page.goto(`${stack.controlPlaneUrl}/account`);
    await page.getByText("This browser").waitFor();
    await page.getByRole("button", { name: "Sign out everywhere" }).click();
    const everywhere = page.getByRole("dialog", { name: "Sign out everywhere?" });
    await everywhere.getByRole("button", { name: "Cancel" }).click();
    await everywhere.waitFor({ state: "detached" });
    await expectFocus(page, { tag: "BUTTON", text: "Sign out everywhere", inDialog: false });

    const deleteButton = page.getByRole("button", { name: "Delete account…" });
    const confirmDelete = page.getByRole("dialog", { name: "Delete your account?" });
    await deleteButton.click();
    await confirmDelete.getByRole("button", { name: "Cancel" }).click();
    await confirmDelete.waitFor({ state: "detached" });
    await expectFocus(page, { tag: "BUTTON", text: "Delete account…" });

    // A wrong password: the error in the dialog with its code and request id, and focus on the field (not on
    // <body>, where the busy button left it); the session is still there (UNAUTHORIZED here is the password).
    await deleteButton.click();
    let answer = page.waitForResponse((r) => r.url().includes("account.delete"));
    await confirmDelete.getByLabel("Password").fill("not my password at all");
    await confirmDelete.getByRole("button", { name: "Delete account" }).click();
    const requestId = (await answer).headers()["x-request-id"] ?? "missing";
    const wrong = confirmDelete.getByRole("alert");
    await wrong.getByText("Wrong password").waitFor();
    expect(await wrong.textContent()).toContain("Error UNAUTHORIZED");
    expect(await wrong.getByTestId("request-id").textContent()).toBe(requestId);
    await expectFocus(page, { tag: "INPUT", invalid: "true", inDialog: true });
    await page.keyboard.press("Escape");
    await confirmDelete.waitFor({ state: "detached" });
    await expectFocus(page, { tag: "BUTTON", text: "Delete account…" });
    // Enter in the password field confirms too.
    await deleteButton.click();
    answer = page.waitForResponse((r) => r.url().includes("account.delete"));
    await confirmDelete.getByLabel("Password").fill("still not my password");
    await page.keyboard.press("Enter");
    expect((await answer).status()).toBe(401);
    await wrong.getByText("Wrong password").waitFor();
    await expectFocus(page, { tag: "INPUT", invalid: "true", inDialog: true });
    await confirmDelete.getByRole("button", { name: "Cancel" }).click();
    await confirmDelete.waitFor({ state: "detached" });
    await expectFocus(page, { tag: "BUTTON", text: "Delete account…" });
    expect(new URL(page.url()).pathname).toBe("/account");

    // A new password equal to the current one: the validator's words, without its field path, on New password.
    await page.getByLabel("Current password").fill(PASSWORD);
    await page.getByLabel("New password").fill(PASSWORD);
    await page.getByRole("button", { name: "Change password" }).click();
    const same = page.getByRole("alert").filter({ hasText: "must differ" });
    await same.waitFor();
    expect(await same.textContent()).toContain("The new password must differ from the current password.");
    expect(await same.textContent()).not.toContain("newPassword");
    expect(await same.textContent()).toContain("Error BAD_REQUEST");
    expect(await page.getByLabel("New password").getAttribute("aria-invalid")).toBe("true");
    expect(await page.getByLabel("Current password").getAttribute("aria-invalid")).toBeNull();
    await expectFocus(page, { tag: "INPUT", invalid: "true" });
  }, 60_000);

  test("API keys: the created dialog focuses the new key; the revoke confirmation returns focus or shows the notice", async () => {
    const { page } = await signedUp();
    // Escape or Done on the "created" dialog focuses the new key in the list.
    await page.goto(`${stack.controlPlaneUrl}/api-keys`);
    await page.getByText("No API keys yet.").waitFor();
    const createKey = async (name: string) => {
      await page.getByLabel("Key name").fill(name);
      await page.getByRole("button", { name: "Create key" }).click();
      const created = page.getByRole("dialog", { name: `API key “${name}” created` });
      await created.getByText("Shown once").waitFor();
      return created;
    };
    let created = await createKey("first key");
    await page.keyboard.press("Escape");
    await created.waitFor({ state: "detached" });
    const first = await expectFocus(page, { tag: "LI", text: /first key/ });
    expect(first.keyId).toMatch(/\S/);
    created = await createKey("second key");
    await created.getByRole("button", { name: "Done" }).click();
    const second = await expectFocus(page, { tag: "LI", text: /second key/ });
    expect(second.keyId).not.toBe(first.keyId);

    // The revoke confirmation: Cancel and Escape return to the key's Revoke button; Revoke, to the notice.
    const revoke = page.getByRole("button", { name: "Revoke second key" });
    const confirmRevoke = page.getByRole("dialog", { name: "Revoke “second key”?" });
    await revoke.click();
    await confirmRevoke.getByRole("button", { name: "Cancel" }).click();
    await confirmRevoke.waitFor({ state: "detached" });
    await expectFocus(page, { tag: "BUTTON", text: "Revoke second key" });
    await revoke.click();
    await confirmRevoke.waitFor();
    await page.keyboard.press("Escape");
    await confirmRevoke.waitFor({ state: "detached" });
    await expectFocus(page, { tag: "BUTTON", text: "Revoke second key" });
    await revoke.click();
    await confirmRevoke.getByRole("button", { name: "Revoke key" }).click();
    await expectFocus(page, { role: "status", text: /Revoked “second key”/ });
  }, 60_000);

  test("a new key is listed at once: closing its dialog focuses it while the list still reloads", async () => {
    const { page } = await signedUp();
    await page.goto(`${stack.controlPlaneUrl}/api-keys`);
    await page.getByText("No API keys yet.").waitFor();
    // Every reload of the list from now on is held until the dialog has closed (a slow server or network).
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await page.route(/\/trpc\/[^?]*apiKeys\.list/, async (route) => {
      await held;
      await route.continue().catch(() => {});
    });
    try {
      await page.getByLabel("Key name").fill("listed at once");
      await page.getByRole("button", { name: "Create key" }).click();
      const created = page.getByRole("dialog", { name: "API key “listed at once” created" });
      const shown = (await created.getByTestId("api-key-value").textContent()) ?? "";
      expect(shown).toMatch(/\S{20}/);
      await page.keyboard.press("Escape");
      await created.waitFor({ state: "detached" });
      const now = await expectFocus(page, { tag: "LI", text: /listed at once/ });
      expect(now.keyId).toMatch(/\S/);
      // What the list shows is the key's record, never the secret shown once.
      expect(await page.textContent("body")).not.toContain(shown);
    } finally {
      release();
      await page.unroute(/\/trpc\/[^?]*apiKeys\.list/);
    }
  }, 60_000);

  test("a double click makes one request: one API key, not two", async () => {
    const { page } = await signedUp();
    await page.goto(`${stack.controlPlaneUrl}/api-keys`);
    await page.getByText("No API keys yet.").waitFor();
    await page.getByLabel("Key name").fill("clicked twice");
    // Two clicks in one task, as a fast double click lands: before React has rendered the button disabled.
    await page.getByRole("button", { name: "Create key" }).evaluate((button) => {
      (button as HTMLButtonElement).click();
      (button as HTMLButtonElement).click();
    });
    const created = page.getByRole("dialog", { name: "API key “clicked twice” created" });
    await created.getByText("Shown once").waitFor();
    await page.keyboard.press("Escape");
    await created.waitFor({ state: "detached" });
    await page.reload();
    await page.getByRole("button", { name: "Revoke clicked twice" }).first().waitFor();
    expect(await page.getByRole("button", { name: "Revoke clicked twice" }).count()).toBe(1);
  }, 60_000);

  test("organisation: the invitation link's Done, and a failed Leave, keep focus off <body>", async () => {
    const { page } = await signedUp();
    // Done on the invitation link returns to the button that made it.
    await page.goto(`${stack.controlPlaneUrl}/org`);
    await page.getByText("Your personal organisation is yours alone").waitFor();
    const orgName = `Focus ${crypto.randomUUID().slice(0, 8)}`;
    await page.getByLabel("Organisation name").fill(orgName);
    await page.getByRole("button", { name: "Create organisation" }).click();
    await page.getByRole("heading", { name: orgName, level: 2 }).waitFor();
    await page.getByLabel("Role", { exact: true }).selectOption("admin");
    await page.getByRole("button", { name: "Create invitation link" }).click();
    const link = page.getByRole("dialog", { name: "Invitation link" });
    await link.getByRole("button", { name: "Done" }).click();
    await link.waitFor({ state: "detached" });
    await expectFocus(page, { tag: "BUTTON", text: "Create invitation link" });
    await page.getByRole("button", { name: "Revoke invitation for an admin" }).waitFor();

    // The sole owner cannot leave: focus moves to the error, not to <body>; Cancel, back to the button.
    await page.getByRole("button", { name: "Leave organisation" }).click();
    const leave = page.getByRole("dialog", { name: `Leave ${orgName}?` });
    await leave.getByRole("button", { name: "Leave" }).click();
    await leave.getByRole("alert").waitFor();
    expect(await leave.getByRole("alert").textContent()).toMatch(/Error [A-Z_]+/);
    await expectFocus(page, { inDialog: true, holdsAlert: true });
    await leave.getByRole("button", { name: "Cancel" }).click();
    await leave.waitFor({ state: "detached" });
    await expectFocus(page, { tag: "BUTTON", text: "Leave organisation" });
  }, 60_000);

  test("addresses a page cannot read: audit filters and sign-in's ?next= never crash it", async () => {
    const { page, user } = await signedUp();
    await connectFigma(stack, user, figmaKeyFor(stack, "addresses")); // an event for the log to show
    const from = page.getByLabel("From", { exact: true });
    const to = page.getByLabel("To", { exact: true });
    for (const query of ["from=garbage", "to=garbage", "from=2025-02-30&to=31-12-2025"]) {
      await page.goto(`${stack.controlPlaneUrl}/audit?${query}`);
      await page.getByRole("heading", { name: "Audit log", level: 1 }).waitFor();
      // Left out, said so, and shown unset; the events still load.
      await page.getByTestId("ignored-filters").waitFor();
      expect(await from.inputValue()).toBe("");
      expect(await to.inputValue()).toBe("");
      await page.getByRole("table", { name: "Audit events" }).waitFor();
      expect(await crashed(page)).toBe(false);
    }
    // A date it can read is applied and shown.
    await page.goto(`${stack.controlPlaneUrl}/audit?from=2020-01-01&to=2020-01-02`);
    await page.getByText("No events match these filters.").waitFor();
    expect(await from.inputValue()).toBe("2020-01-01");
    expect(await page.getByTestId("ignored-filters").count()).toBe(0);
    // An action the list does not name is shown as the filter it is, not as "Any".
    await page.goto(`${stack.controlPlaneUrl}/audit?action=bogus`);
    await page.getByText("No events match these filters.").waitFor();
    expect(await page.getByLabel("Action").inputValue()).toBe("bogus");

    // ?next= that is not a path of this app: the sign-in page works, and signing in lands on the overview.
    const { email } = await newUser(stack);
    for (const next of ["/%5Cevil.example/", "/%09/evil.example", "/%5C%5Cevil.example"]) {
      const visitor = await open(`/signin?next=${next}`);
      await visitor.page.getByRole("heading", { name: "Sign in", level: 1 }).waitFor();
      expect(await crashed(visitor.page)).toBe(false);
      await visitor.page.getByLabel("Email").fill(email);
      await visitor.page.getByLabel("Password").fill(PASSWORD);
      await visitor.page.getByRole("button", { name: "Sign in", exact: true }).click();
      await visitor.page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();
      const landed = new URL(visitor.page.url());
      expect({ next, origin: landed.origin, path: landed.pathname }).toEqual({
        next,
        origin: new URL(stack.controlPlaneUrl).origin,
        path: "/",
      });
      expect(await crashed(visitor.page)).toBe(false);
    }
  }, 60_000);

  test("a session ended elsewhere sends every page, query or action, to sign-in and back", async () => {
    const { profile, page, user } = await signedUp();
    const endSession = async () => {
      const cookie = await cookieOf(profile.context);
      const answer = await trpc(stack, "account.signOutEverywhere", undefined, { cookie });
      expect(answer.status).toBe(200);
    };
    const signIn = async () => {
      await page.getByRole("heading", { name: "Sign in", level: 1 }).waitFor();
      expect(await page.getByText("Sign in or send an API key").count()).toBe(0);
      expect(await page.getByRole("button", { name: "Sign out" }).count()).toBe(0);
      await page.getByLabel("Email").fill(user.email);
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Sign in", exact: true }).click();
    };
    await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();

    // A query: the next page the user opens.
    await endSession();
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "API keys" }).click();
    await page.waitForURL((u) => u.pathname === "/signin" && u.searchParams.get("next") === "/api-keys");
    // Signing in again brings the user back to the page they asked for.
    await signIn();
    await page.getByRole("heading", { name: "API keys", level: 1 }).waitFor();
    await page.getByText("No API keys yet.").waitFor();

    // An action: creating a key once the session is gone.
    await endSession();
    await page.getByLabel("Key name").fill("too late");
    await page.getByRole("button", { name: "Create key" }).click();
    await page.waitForURL((u) => u.pathname === "/signin" && u.searchParams.get("next") === "/api-keys");
    await signIn();
    await page.getByRole("heading", { name: "API keys", level: 1 }).waitFor();
    await page.getByText("No API keys yet.").waitFor();
  }, 60_000);

  test("errors say their code and request id; the browser checks a definition's pattern; the copy", async () => {
    const { profile, page } = await signedUp();
    const patternComplaints: string[] = [];
    page.on("console", (msg) => {
      if (/pattern/i.test(msg.text())) patternComplaints.push(msg.text());
    });

    // Jira's site: the definition's pattern compiles in the browser's `v` mode, so the browser checks it.
    await page.goto(`${stack.controlPlaneUrl}/connect/jira`);
    const site = page.getByLabel("Jira site");
    await site.waitFor();
    const valid = async (value: string) => {
      await site.fill(value);
      return site.evaluate((el) => (el as HTMLInputElement).validity.valid);
    };
    const withScheme = await valid("https://acme.atlassian.net/");
    // The browser compiled the pattern without complaint ("… is not a valid regular expression"), which it
    // logs to the console when it checks a value (the console's events arrive on their own time).
    await Bun.sleep(300);
    expect(patternComplaints).toEqual([]);
    expect(withScheme).toBe(false);
    expect(await valid("acme.atlassian.net")).toBe(true);
    expect(await valid("my-team.atlassian.net")).toBe(true);
    expect(await valid("-team.atlassian.net")).toBe(false);

    // A refused key: the message on its field, with the code and the request id.
    await page.goto(`${stack.controlPlaneUrl}/connect/figma`);
    await page.getByLabel("Figma API key").fill("figd_not-a-key-anyone-registered");
    const answer = page.waitForResponse((r) => r.url().includes("instances.connect"));
    await page.getByRole("button", { name: "Connect Figma" }).click();
    const requestId = (await answer).headers()["x-request-id"] ?? "missing";
    const fieldError = page.getByRole("alert").filter({ hasText: "Figma did not accept this key" });
    await fieldError.waitFor();
    expect(await fieldError.textContent()).toContain("Error INVALID_API_KEY");
    expect(await fieldError.getByTestId("request-id").textContent()).toBe(requestId);

    // Copy: the custom server's heading, and an article that fits every service's name.
    await page.goto(`${stack.controlPlaneUrl}/connect/custom`);
    await page.getByRole("heading", { name: "Connect a custom MCP server", level: 1, exact: true }).waitFor();
    await page.goto(`${stack.controlPlaneUrl}/catalog`);
    await page.getByRole("article", { name: "Figma" }).waitFor();
    const keyLinks = await page.getByRole("link", { name: /^Where do I get/ }).allTextContents();
    expect(keyLinks.length).toBeGreaterThan(1);
    for (const text of keyLinks) expect(text).toMatch(/^Where do I get a key for \S.*\?$/);

    // Signed out, a wrong password: the code and the request id, like every other error.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in", level: 1 }).waitFor();
    await page.getByLabel("Email").fill(freshEmail());
    await page.getByLabel("Password").fill("not the right password");
    const refused = page.waitForResponse((r) => r.url().includes("auth.signIn"));
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    const signInId = (await refused).headers()["x-request-id"] ?? "missing";
    const alert = page.getByRole("alert");
    await alert.waitFor();
    expect(await alert.textContent()).toContain("Error UNAUTHORIZED");
    expect(await alert.getByTestId("request-id").textContent()).toBe(signInId);
    expect(profile.csp).toEqual([]);
  }, 60_000);
});
