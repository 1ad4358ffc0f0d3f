// The dashboard in a real browser against the real stack: sign up, connect Figma, copy the
// instance URL, revoke; connect a custom MCP server with its headers; plus the error paths a user
// meets first (bad key, wrong header, wrong password).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { CHROMIUM } from "../scripts/chromium.ts";
import { ensureDashboardBuilt } from "../scripts/dashboard-build.ts";
import { type RemoteMcp, startRemoteMcp } from "./fakes/remote-mcp.ts";
import { type Stack, startStack } from "./harness.ts";

const PASSWORD = "correct horse battery";

let stack: Stack;
let remote: RemoteMcp;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  await ensureDashboardBuilt();
  // The fake custom MCP server listens on 127.0.0.1, which the SSRF rules refuse by default.
  stack = await startStack({ allowPrivateUpstreams: true });
  remote = await startRemoteMcp({ kind: "streamable", requiredHeaders: { authorization: "Bearer s3cret" } });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}, 120_000);

afterAll(async () => {
  expect(cspViolations).toEqual([]);
  for (const context of contexts) await context.close();
  await browser?.close();
  await stack?.stop();
  await remote?.stop();
});

function freshEmail(): string {
  return `dash-${crypto.randomUUID()}@example.test`;
}

/** A new browser profile (own cookie jar) with the dashboard open; confirm() dialogs are accepted. */
async function openDashboard(): Promise<Page> {
  const context = await browser.newContext({
    permissions: ["clipboard-read", "clipboard-write"],
    viewport: { width: 1200, height: 900 },
  });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on("dialog", (dialog) => void dialog.accept());
  page.on("console", (msg) => {
    if (msg.type() === "error" && /Content.Security.Policy/i.test(msg.text())) cspViolations.push(msg.text());
  });
  await page.goto(stack.controlPlaneUrl);
  return page;
}

/** Every page of every test runs under the control plane's CSP; nothing it loads may be refused. */
const cspViolations: string[] = [];

async function signUp(page: Page, email: string): Promise<void> {
  await page.getByRole("button", { name: "Create an account" }).click();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

describe("dashboard", () => {
  test("sign up, connect Figma, copy the instance URL, then revoke it", async () => {
    const page = await openDashboard();
    const email = freshEmail();
    await signUp(page, email);
    expect(await page.getByRole("banner").textContent()).toContain(email);

    const figma = page.getByRole("article", { name: "Figma" });
    await figma.getByRole("heading", { name: "Figma" }).waitFor();
    // Where to get a key, from the catalogue.
    expect(await figma.getByRole("link", { name: "Get a Figma key" }).getAttribute("href")).toBe(
      "https://www.figma.com/settings",
    );
    // A service that needs more than a key asks for it, with the definition's rules.
    const jira = page.getByRole("article", { name: "Jira" });
    expect(await jira.getByLabel("Jira site").getAttribute("required")).not.toBeNull();
    expect(await jira.getByLabel("Jira site").getAttribute("pattern")).toContain("atlassian");
    expect(await jira.getByLabel("Atlassian account email").getAttribute("type")).toBe("text");
    const token = `figd_${crypto.randomUUID()}`;
    stack.figma.addKey(token, { id: "u1", email, handle: "Dash Tester" });

    await figma.getByLabel("Figma API key").fill(token);
    await figma.getByRole("button", { name: "Connect Figma" }).click();

    const secret = page.getByTestId("secret-value");
    await secret.waitFor();
    const url = (await secret.textContent()) ?? "";
    expect(url.startsWith(`${stack.edgeUrl}/mcp_fig_`)).toBe(true);
    expect(await page.getByText("won't be shown again").count()).toBeGreaterThan(0);
    // The key never lingers in the form.
    expect(await figma.getByLabel("Figma API key").inputValue()).toBe("");

    await page.getByRole("button", { name: "Copy instance URL" }).click();
    await page.getByText("Copied to clipboard.").waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(url);

    const row = page.getByRole("row", { name: /Figma/ });
    await row.getByText("Active").waitFor();
    // Whose Figma account the key belongs to, from the key check.
    await row.getByText(`connected as Dash Tester (${email})`).waitFor();
    await page.screenshot({ path: "/tmp/dashboard.png", fullPage: true });

    await row.getByRole("button", { name: "Revoke Figma" }).click();
    // A revoked instance either stays listed as revoked or leaves the table.
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll("tbody tr")].filter((r) => r.textContent?.includes("Figma"));
      return rows.every((r) => r.textContent?.includes("Revoked"));
    });
    expect(await page.getByRole("button", { name: "Revoke Figma" }).count()).toBe(0);
    expect(await page.getByRole("alert").count()).toBe(0);
  });

  test("an invalid API key shows an error and creates no instance", async () => {
    const page = await openDashboard();
    await signUp(page, freshEmail());

    const figma = page.getByRole("article", { name: "Figma" });
    await figma.getByLabel("Figma API key").fill("figd_not-a-key-anyone-registered");
    await figma.getByRole("button", { name: "Connect Figma" }).click();

    const alert = figma.getByRole("alert");
    await alert.waitFor();
    expect(((await alert.textContent()) ?? "").length).toBeGreaterThan(0);
    expect(await page.getByTestId("secret-value").count()).toBe(0);
    await page.getByText("No instances yet").waitFor();
    expect(await page.getByRole("row", { name: /Figma/ }).count()).toBe(0);
  });

  test("connect a custom MCP server with its headers; a wrong Authorization header is refused", async () => {
    const page = await openDashboard();
    await signUp(page, freshEmail());

    const custom = page.getByRole("article", { name: "Custom MCP server" });
    const authorization = custom.getByLabel("Authorization", { exact: true });
    const connect = custom.getByRole("button", { name: "Connect Custom MCP server" });
    await custom.getByLabel("Name", { exact: true }).fill("My tools");
    await custom.getByLabel("Server URL", { exact: true }).fill(remote.url);
    await custom.getByRole("button", { name: "Add header" }).click();
    await custom.getByLabel("Header 2 name", { exact: true }).fill("X-User-Marker");
    await custom.getByLabel("Header 2 value", { exact: true }).fill("dash-marker");

    // The server answers 401 to a wrong Authorization header: its message, and nothing stored.
    await authorization.fill("Bearer wrong");
    await connect.click();
    const alert = custom.getByRole("alert");
    await alert.waitFor();
    expect(((await alert.textContent()) ?? "").length).toBeGreaterThan(0);
    expect(await page.getByTestId("secret-value").count()).toBe(0);
    await page.getByText("No instances yet").waitFor();
    expect(await page.getByRole("row", { name: /Custom MCP server/ }).count()).toBe(0);

    await authorization.fill("Bearer s3cret");
    await connect.click();
    const secret = page.getByTestId("secret-value");
    await secret.waitFor();
    const url = (await secret.textContent()) ?? "";
    expect(url.startsWith(`${stack.edgeUrl}/mcp_cus_`)).toBe(true);
    expect(await page.getByRole("heading", { name: "Your Custom MCP server instance URL" }).count()).toBe(1);
    expect(await custom.getByRole("alert").count()).toBe(0);
    // Secrets never linger in the form.
    expect(await authorization.inputValue()).toBe("");
    expect(await custom.getByLabel("Header 2 value", { exact: true }).inputValue()).toBe("");
    // The platform listed the server's tools with the user's headers.
    const seen = remote.requests.filter((r) => r.headers.authorization === "Bearer s3cret");
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((r) => r.headers["x-user-marker"] === "dash-marker")).toBe(true);

    const row = page.getByRole("row", { name: /Custom MCP server/ });
    await row.getByText("Active").waitFor();
    expect(await row.getByRole("button", { name: "Rotate Custom MCP server URL" }).count()).toBe(1);
    expect(await row.getByRole("button", { name: "Revoke Custom MCP server" }).count()).toBe(1);
    await custom.getByText("Connecting again replaces").waitFor();
    await page.screenshot({ path: "/tmp/dashboard-custom.png", fullPage: true });
  });

  test("a wrong password on sign-in shows the error; the right one signs in", async () => {
    const page = await openDashboard();
    const email = freshEmail();
    await signUp(page, email);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();

    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("not the right password");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    expect(((await alert.textContent()) ?? "").length).toBeGreaterThan(0);
    expect(await page.getByRole("button", { name: "Sign out" }).count()).toBe(0);

    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    expect(await page.getByRole("banner").textContent()).toContain(email);
  });
});
