// The dashboard in a real browser against the real stack, as a new user meets it: sign up, the catalogue,
// connect Figma (a wrong key first), the one-time URL and every client's snippet, a real MCP client on the
// URL, usage and recent calls, the upstream revoking the key, reconnect, rotate, revoke. Plus a custom MCP
// server with its headers and the sign-in error path. Every page runs under the control plane's CSP.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { ensureDashboardBuilt } from "../scripts/dashboard-build.ts";
import { expectInstanceDead } from "./client.ts";
import {
  clipboard,
  closeProfiles,
  freshEmail,
  launchBrowser,
  openProfile,
  PASSWORD,
  type Profile,
  screenshot,
  signUpUi,
} from "./dashboard/browser.ts";
import { FAKE_FILE_KEY } from "./fakes/figma.ts";
import { type RemoteMcp, startRemoteMcp } from "./fakes/remote-mcp.ts";
import { type Stack, startStack } from "./harness.ts";
import { callTool, mcpClient } from "./services/kit.ts";

let stack: Stack;
let remote: RemoteMcp;
let browser: Browser;
const profiles: Profile[] = [];

beforeAll(async () => {
  await ensureDashboardBuilt();
  // The fake custom MCP server listens on 127.0.0.1, which the SSRF rules refuse by default.
  [stack, remote, browser] = await Promise.all([
    startStack({ allowPrivateUpstreams: true }),
    startRemoteMcp({ kind: "streamable", requiredHeaders: { authorization: "Bearer s3cret" } }),
    launchBrowser(),
  ]);
}, 120_000);

afterAll(async () => {
  await closeProfiles(profiles);
  await browser?.close();
  await stack?.stop();
  await remote?.stop();
});

async function open(path = "/"): Promise<Profile> {
  const profile = await openProfile(browser, `${stack.controlPlaneUrl}${path}`);
  profiles.push(profile);
  return profile;
}

/** Whether the control plane's CSP lets a page fetch from the edge (the "Test connection" button needs it). */
async function cspAllowsEdge(): Promise<boolean> {
  const res = await fetch(`${stack.controlPlaneUrl}/`);
  await res.body?.cancel();
  const connectSrc = /connect-src([^;]*)/.exec(res.headers.get("content-security-policy") ?? "")?.[1] ?? "";
  return connectSrc.split(/\s+/).some((s) => s === "*" || s === new URL(stack.edgeUrl).origin);
}

describe("dashboard", () => {
  test("sign up → connect Figma → clients → MCP call → usage → upstream revokes → reconnect → rotate → revoke", async () => {
    const profile = await open();
    const { page } = profile;
    const email = freshEmail();

    // Signed out: the sign-in page says what the product is.
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/signin");
    await page.getByText("Your tools, in every AI client").waitFor();
    await signUpUi(page, email);
    expect(await page.getByRole("banner").textContent()).toContain(email);
    expect(await page.getByTestId("step-1").getAttribute("data-done")).toBe("false");

    // The catalogue: health, where to get a key, tools with annotations, search.
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Catalog" }).click();
    const figma = page.getByRole("article", { name: "Figma" });
    await figma.waitFor();
    expect(
      await figma.getByRole("link", { name: "Where do I get a key for Figma?" }).getAttribute("href"),
    ).toBe("https://www.figma.com/settings");
    expect(await figma.getByTestId("health").textContent()).toMatch(
      /Operational|Not checked yet|Slow|Unavailable/,
    );
    await figma.getByText(/^\d+ tools$/).click();
    await figma.getByText("get_comments").waitFor();
    expect(await figma.getByText("read-only").count()).toBeGreaterThan(0);
    const all = await page.getByRole("article").count();
    await page.getByLabel("Search services and tools").fill("post_comment");
    await page.waitForFunction((n) => document.querySelectorAll("article").length < n, all);
    await figma.waitFor();
    expect(new URL(page.url()).searchParams.get("q")).toBe("post_comment");
    await page.getByLabel("Search services and tools").fill("no-such-thing-anywhere");
    await page.getByText("No service or tool matches").waitFor();
    await page.getByLabel("Search services and tools").fill("");
    await figma.getByRole("link", { name: "Connect Figma" }).click();

    // A wrong key: an inline error in plain words, on the field, focus on it; nothing connected.
    await page.getByRole("heading", { name: "Connect Figma" }).waitFor();
    const key = page.getByLabel("Figma API key");
    await key.fill("figd_not-a-key-anyone-registered");
    expect(await key.getAttribute("type")).toBe("password");
    await page.getByRole("button", { name: "Show key" }).click();
    expect(await key.getAttribute("type")).toBe("text");
    await page.getByRole("button", { name: "Hide key" }).click();
    expect(await key.getAttribute("type")).toBe("password");
    await page.getByRole("button", { name: "Connect Figma" }).click();
    const fieldError = page.getByRole("alert").filter({ hasText: "Figma did not accept this key" });
    await fieldError.waitFor();
    expect(await key.getAttribute("aria-invalid")).toBe("true");
    const errorId = (await fieldError.getAttribute("id")) ?? "missing";
    expect((await key.getAttribute("aria-describedby"))?.split(" ")).toContain(errorId);
    expect(await key.evaluate((el) => el === document.activeElement)).toBe(true);
    expect(await page.getByRole("dialog").count()).toBe(0);

    // The right key: a dialog with the URL masked until revealed, shown once.
    const token = `figd_${crypto.randomUUID()}`;
    stack.figma.addKey(token, { id: "dash-1", email, handle: "Dash Tester" });
    await key.fill(token);
    await page.getByRole("button", { name: "Connect Figma" }).click();
    const dialog = page.getByRole("dialog", { name: "Figma is connected" });
    await dialog.waitFor();
    expect(await key.inputValue()).toBe("");
    const secret = dialog.getByTestId("secret-value");
    expect(await secret.textContent()).toContain("••••");
    expect(await secret.textContent()).not.toContain(token);
    await dialog.getByText("Shown once").waitFor();
    await dialog.getByRole("button", { name: "Reveal URL" }).click();
    const url = (await secret.textContent()) ?? "";
    expect(url.startsWith(`${stack.edgeUrl}/mcp_fig_`)).toBe(true);
    await dialog.getByRole("button", { name: "Copy instance URL" }).click();
    await dialog.getByText("Copied to clipboard.").first().waitFor();
    expect(await clipboard(page)).toBe(url);
    await screenshot(page, "connected-dialog-desktop");

    // Every client's snippet, copied as the user would, in the shape that client documents.
    const copied: Record<string, string> = {};
    for (const label of ["Claude", "Claude Code", "Cursor", "VS Code", "Windsurf", "MCP Inspector", "curl"]) {
      await dialog.getByRole("tab", { name: label, exact: true }).click();
      await dialog.getByRole("button", { name: `Copy ${label} snippet` }).click();
      await page.waitForFunction(
        async (prev) => (await navigator.clipboard.readText()) !== prev,
        await clipboard(page),
      );
      copied[label] = await clipboard(page);
    }
    expect(copied.Claude).toBe(url);
    expect(copied["Claude Code"]).toBe(`claude mcp add --transport http figma '${url}'`);
    expect(JSON.parse(copied.Cursor ?? "")).toEqual({ mcpServers: { figma: { url } } });
    expect(JSON.parse(copied["VS Code"] ?? "")).toEqual({ servers: { figma: { type: "http", url } } });
    expect(JSON.parse(copied.Windsurf ?? "")).toEqual({ mcpServers: { figma: { serverUrl: url } } });
    expect(copied["MCP Inspector"]).toContain("npx @modelcontextprotocol/inspector");
    expect(copied["MCP Inspector"]).toContain(url);
    await dialog.getByRole("tab", { name: "VS Code" }).click();
    const vscodeLink =
      (await dialog.getByRole("link", { name: "Install in VS Code" }).getAttribute("href")) ?? "";
    expect(JSON.parse(decodeURIComponent(vscodeLink.replace("vscode:mcp/install?", "")))).toEqual({
      name: "figma",
      type: "http",
      url,
    });
    await dialog.getByRole("tab", { name: "Cursor" }).click();
    const cursorLink = new URL(
      (await dialog.getByRole("link", { name: "Install in Cursor" }).getAttribute("href")) ?? "",
    );
    expect(JSON.parse(atob(cursorLink.searchParams.get("config") ?? ""))).toEqual({ url });
    // The curl command does what it says: its request, sent as written, initializes an MCP session.
    const curl = copied.curl ?? "";
    const headers = Object.fromEntries([...curl.matchAll(/-H '([^:]+): ([^']+)'/g)].map((m) => [m[1], m[2]]));
    const body = /-d '(.*)'$/m.exec(curl)?.[1] ?? "";
    const init = await fetch(url, { method: "POST", headers, body });
    expect(init.status).toBe(200);
    expect(await init.text()).toContain('"serverInfo"');

    // Test connection: tools/list from the browser through the edge.
    await dialog.getByRole("button", { name: "Test connection" }).click();
    const result = dialog.getByTestId("test-result");
    // The control plane's CSP lets the page reach the edge, and the edge answers CORS for the dashboard.
    expect(await cspAllowsEdge()).toBe(true);
    await result.getByText("get_file_nodes").waitFor();
    expect(await result.getByRole("listitem").count()).toBeGreaterThan(1);

    // A real MCP SDK client uses the URL.
    const client = await mcpClient(url);
    expect((await callTool(client, "get_me")).json).toMatchObject({ email });
    await dialog.getByRole("button", { name: "Done" }).click();
    await page.getByRole("heading", { name: "Figma", level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/instances/figma");
    expect(await page.evaluate(() => document.activeElement?.tagName)).toBe("H1");

    // The call shows in the instance's recent calls, and on the usage page.
    await page
      .getByRole("table", { name: "Recent tool calls" })
      .getByText("get_me")
      .waitFor({ timeout: 20_000 });
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Usage" }).click();
    const byInstance = page.getByRole("table", { name: "Usage by instance" });
    await byInstance.getByRole("row", { name: /Figma/ }).waitFor({ timeout: 30_000 });
    expect(await byInstance.getByRole("row", { name: /Figma/ }).getByRole("cell").first().textContent()).toBe(
      "1",
    );
    expect(await page.locator(".recharts-surface").count()).toBeGreaterThanOrEqual(3);
    await screenshot(page, "usage-desktop");

    // The checklist ticked itself off from what the server saw.
    await page.getByRole("link", { name: "Overview" }).click();
    for (const step of ["step-1", "step-2", "step-3"]) {
      await page.locator(`[data-testid="${step}"][data-done="true"]`).waitFor({ timeout: 30_000 });
    }

    // The upstream revokes the key: the next tool call fails and marks the instance needs re-auth.
    stack.figma.removeKey(token);
    const refused = await callTool(client, "get_file", { file_key: FAKE_FILE_KEY });
    expect(refused.isError).toBe(true);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Instances" }).click();
    const row = page.getByRole("row", { name: /Figma/ });
    await row.getByText("Needs re-auth").waitFor({ timeout: 25_000 });
    await row
      .getByText("connected as Dash Tester")
      .or(row.getByText(`Dash Tester (${email})`))
      .waitFor();
    expect(await row.getByTestId("calls-24h").textContent()).toMatch(/^[12]$/);
    await screenshot(page, "instances-desktop");
    await row.getByRole("link", { name: "Reconnect Figma" }).click();

    // Reconnect keeps the URL.
    await page.getByRole("heading", { name: "Reconnect Figma" }).waitFor();
    const token2 = `figd_${crypto.randomUUID()}`;
    stack.figma.addKey(token2, { id: "dash-1", email, handle: "Dash Tester" });
    await page.getByLabel("Figma API key").fill(token2);
    await page.getByRole("button", { name: "Save the new key Figma" }).click();
    const notice = page.getByTestId("notice");
    await notice.getByText("your instance URL is unchanged").waitFor();
    await page.getByTestId("status").getByText("Working").waitFor();
    const again = await mcpClient(url);
    expect((await callTool(again, "get_file", { file_key: FAKE_FILE_KEY })).isError).toBe(false);

    // Rotate: an in-app confirmation, the new URL in the once-only dialog, the old URL refused.
    await page.getByRole("button", { name: "Rotate URL" }).click();
    const confirmRotate = page.getByRole("dialog", { name: "Rotate the Figma URL?" });
    await confirmRotate.getByRole("button", { name: "Rotate URL" }).click();
    const rotated = page.getByRole("dialog", { name: "New Figma URL" });
    await rotated.getByRole("button", { name: "Reveal URL" }).click();
    const newUrl = (await rotated.getByTestId("secret-value").textContent()) ?? "";
    expect(newUrl.startsWith(`${stack.edgeUrl}/mcp_fig_`)).toBe(true);
    expect(newUrl).not.toBe(url);
    await rotated.getByRole("button", { name: "Done" }).click();
    await notice.getByText("Rotated").waitFor();
    await page.waitForFunction(() => document.activeElement?.getAttribute("data-testid") === "notice");
    await expectInstanceDead(stack, url);

    // Revoke: confirmed in-app, focus on the result, the URL dead everywhere.
    await page.getByRole("button", { name: "Revoke" }).click();
    await page
      .getByRole("dialog", { name: "Revoke the Figma instance?" })
      .getByRole("button", { name: "Revoke" })
      .click();
    await notice.getByText("Revoked").waitFor();
    await page.getByTestId("status").getByText("Revoked").waitFor();
    await page.waitForFunction(() => document.activeElement?.getAttribute("data-testid") === "notice");
    await expectInstanceDead(stack, newUrl);
    expect(await page.getByRole("button", { name: "Rotate URL" }).count()).toBe(0);

    // Delete (a revoked instance too): confirmed in-app, then the list, its heading focused, Figma gone.
    await page.getByRole("button", { name: "Delete instance" }).click();
    const confirmDelete = page.getByRole("dialog", { name: "Delete the Figma instance?" });
    expect(await confirmDelete.textContent()).toContain("stored key is erased");
    await confirmDelete.getByRole("button", { name: "Delete", exact: true }).click();
    await page.waitForURL((u) => u.pathname === "/instances");
    await page.waitForFunction(
      () => document.activeElement?.tagName === "H1" && document.activeElement.textContent === "Instances",
    );
    await page.getByText("No instances yet.").waitFor();
    await page.getByTestId("notice").getByText("Deleted Figma").waitFor();
    expect(await page.getByRole("link", { name: "Figma" }).count()).toBe(0);
    await expectInstanceDead(stack, newUrl);
  }, 120_000);

  test("custom MCP server with its headers (a wrong Authorization first); wrong password on sign-in", async () => {
    const { page } = await open("/signup");
    const email = freshEmail();
    await signUpUi(page, email);
    await page.goto(`${stack.controlPlaneUrl}/catalog`);
    await page
      .getByRole("article", { name: "Custom MCP server" })
      .getByRole("link", { name: "Connect Custom MCP server" })
      .click();

    const form = page.getByRole("form", { name: "Connect Custom MCP server" });
    const authorization = form.getByLabel("Authorization", { exact: true });
    await form.getByLabel("Name", { exact: true }).fill("My tools");
    await form.getByLabel("Server URL", { exact: true }).fill(remote.url);
    await form.getByRole("button", { name: "Add header" }).click();
    await form.getByLabel("Header 2 name", { exact: true }).fill("X-User-Marker");
    await form.getByLabel("Header 2 value", { exact: true }).fill("dash-marker");

    // The server answers 401 to a wrong Authorization header: its message, fields marked, nothing stored.
    await authorization.fill("Bearer wrong");
    await form.getByRole("button", { name: "Connect Custom MCP server" }).click();
    await form.getByRole("alert").waitFor();
    expect(((await form.getByRole("alert").textContent()) ?? "").length).toBeGreaterThan(0);
    expect(await authorization.getAttribute("aria-invalid")).toBe("true");
    expect(await page.getByRole("dialog").count()).toBe(0);

    await authorization.fill("Bearer s3cret");
    await form.getByRole("button", { name: "Connect Custom MCP server" }).click();
    const dialog = page.getByRole("dialog", { name: "My tools is connected" });
    await dialog.getByRole("button", { name: "Reveal URL" }).click();
    const url = (await dialog.getByTestId("secret-value").textContent()) ?? "";
    expect(url.startsWith(`${stack.edgeUrl}/mcp_cus_`)).toBe(true);
    // The client snippets name the server after the user's label.
    await dialog.getByRole("tab", { name: "Claude Code" }).click();
    expect(await dialog.getByTestId("snippet-claude-code").textContent()).toBe(
      `claude mcp add --transport http my-tools '${url}'`,
    );
    // Secrets never linger in the form (hidden from assistive tech behind the modal dialog, so by CSS).
    const secretInputs = page.locator('form[aria-label="Connect Custom MCP server"] input[type="password"]');
    expect(await secretInputs.count()).toBe(2);
    expect(await secretInputs.evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value))).toEqual([
      "",
      "",
    ]);
    const seen = remote.requests.filter((r) => r.headers.authorization === "Bearer s3cret");
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((r) => r.headers["x-user-marker"] === "dash-marker")).toBe(true);
    await dialog.getByRole("button", { name: "Done" }).click();
    await page.getByRole("heading", { name: "Custom MCP server", level: 1 }).waitFor();
    await page.getByTestId("status").getByText("Working").waitFor();

    // Delete the live instance: Cancel first changes nothing; confirmed, it leaves the list and its URL dies.
    await page.getByRole("button", { name: "Delete instance" }).click();
    const confirmDelete = page.getByRole("dialog", { name: "Delete the Custom MCP server instance?" });
    expect(await confirmDelete.textContent()).toContain("URL stops working at once");
    await confirmDelete.getByRole("button", { name: "Cancel" }).click();
    await page.waitForFunction(() => document.activeElement?.textContent === "Delete instance");
    // Still alive after Cancel: a real client connects (it throws otherwise).
    await (await mcpClient(url)).close();
    await page.getByRole("button", { name: "Delete instance" }).click();
    await confirmDelete.getByRole("button", { name: "Delete", exact: true }).click();
    await page.waitForURL((u) => u.pathname === "/instances");
    await page.waitForFunction(
      () => document.activeElement?.tagName === "H1" && document.activeElement.textContent === "Instances",
    );
    await page.getByText("No instances yet.").waitFor();
    expect(await page.getByRole("link", { name: "Custom MCP server" }).count()).toBe(0);
    const mark = remote.requests.length;
    await expectInstanceDead(stack, url);
    expect(remote.requests.length).toBe(mark);

    // Signed out, a wrong password: the error on the form, marked on the field; the right one signs in.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("not the right password");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("alert").waitFor();
    expect(await page.getByLabel("Password").getAttribute("aria-invalid")).toBe("true");
    expect(await page.getByRole("button", { name: "Sign out" }).count()).toBe(0);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    expect(await page.getByRole("banner").textContent()).toContain(email);
  }, 60_000);
});
