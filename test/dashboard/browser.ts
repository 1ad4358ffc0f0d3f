// Shared by the dashboard's browser suites: one Chromium per file, a fresh profile per user, the CSP watch,
// the UI sign-up, the no-horizontal-scroll check and screenshots under test/artifacts/.

import { expect } from "bun:test";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { CHROMIUM } from "../../scripts/chromium.ts";

export const PASSWORD = "correct horse battery";
export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 390, height: 844 };
const ARTIFACTS = resolve(import.meta.dir, "../artifacts");

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
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
}

export function freshEmail(): string {
  return `dash-${crypto.randomUUID()}@example.test`;
}

export interface Profile {
  context: BrowserContext;
  page: Page;
  /** Every Content-Security-Policy complaint the console printed in this profile. */
  csp: string[];
  /** Every window.alert/confirm/prompt opened: the dashboard must use none. */
  nativeDialogs: string[];
}

/** A new browser profile (own cookie jar and clipboard) on `url`. */
export async function openProfile(
  browser: Browser,
  url: string,
  viewport: { width: number; height: number } = DESKTOP,
): Promise<Profile> {
  const context = await browser.newContext({ permissions: ["clipboard-read", "clipboard-write"], viewport });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const profile: Profile = { context, page, csp: [], nativeDialogs: [] };
  page.on("dialog", (dialog) => {
    profile.nativeDialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on("console", (msg) => {
    if (/Content.Security.Policy/i.test(msg.text())) profile.csp.push(msg.text());
  });
  page.on("pageerror", (err) => profile.csp.push(`page error: ${err.message}`));
  await page.goto(url);
  return profile;
}

/**
 * A suite's end: nothing any of its pages loaded or did was refused by the CSP, no native alert/confirm was ever
 * opened; then every profile is closed.
 */
export async function closeProfiles(profiles: Profile[]): Promise<void> {
  expect(profiles.flatMap((p) => p.csp)).toEqual([]);
  expect(profiles.flatMap((p) => p.nativeDialogs)).toEqual([]);
  for (const p of profiles) await p.context.close();
}

/** Signs up through the form (the page must be on /signin or /signup). */
export async function signUpUi(page: Page, email: string): Promise<void> {
  if (!page.url().includes("/signup")) await page.getByRole("link", { name: "Create an account" }).click();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

/** The session cookie of a profile, for API calls made as the same user. */
export async function cookieOf(context: BrowserContext): Promise<string> {
  const cookies = await context.cookies();
  return cookies.map((c) => `${c.name}=${c.value}`).join("; ");
}

export async function clipboard(page: Page): Promise<string> {
  return page.evaluate(() => navigator.clipboard.readText());
}

/** No horizontal page scroll at the current width. */
export async function expectNoHorizontalScroll(page: Page, what: string): Promise<void> {
  const { scroll, inner } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
  }));
  expect({ what, scroll: scroll <= inner }).toEqual({ what, scroll: true });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: resolve(ARTIFACTS, `dashboard-${name}.png`), fullPage: true });
}

/** Presses Tab until the focused element satisfies `match` (by its accessible label or text); fails after `max`. */
export async function tabTo(page: Page, match: RegExp, max = 40): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    const name = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el) return "";
      const labelled = el.id ? document.querySelector(`label[for="${CSS.escape(el.id)}"]`)?.textContent : "";
      return [el.getAttribute("aria-label"), labelled, el.textContent].filter(Boolean).join(" | ");
    });
    if (match.test(name)) return;
  }
  throw new Error(`no focusable element matching ${match} within ${max} tabs`);
}
