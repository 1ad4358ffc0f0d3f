// The dashboard in a real browser against the real stack: sign up, connect Figma, copy the
// instance URL, revoke; plus the error paths a user meets first (bad key, wrong password).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { CHROMIUM } from "../scripts/chromium.ts";
import { ensureDashboardBuilt } from "../scripts/dashboard-build.ts";
import { type Stack, startStack } from "./harness.ts";

const PASSWORD = "correct horse battery";

let stack: Stack;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  await ensureDashboardBuilt();
  stack = await startStack();
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
  for (const context of contexts) await context.close();
  await browser?.close();
  await stack?.stop();
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
  await page.goto(stack.controlPlaneUrl);
  return page;
}

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
