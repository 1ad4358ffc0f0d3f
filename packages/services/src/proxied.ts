import { randomUUID } from "node:crypto";
import type { RemoteFailureResult, RemoteMcpConfig } from "./remote-mcp.ts";
import { type CredentialParts, isSendableCredential } from "./request.ts";
import { createStdioPool } from "./stdio/pool.ts";
import type { StdioLogger } from "./stdio/stderr.ts";
import type { RemoteProxiedService, StdioProxiedService } from "./types.ts";

/**
 * The MCP server a proxied service's instance relays to, with the user's key (and extra fields) filled into
 * the headers its definition names; undefined when the credential cannot fill them (nothing is sent then).
 */
export function proxiedServerConfig(
  service: Pick<RemoteProxiedService, "name" | "baseUrl" | "headers">,
  credential: CredentialParts,
): RemoteMcpConfig | undefined {
  if (!isSendableCredential(credential.apiKey)) return undefined;
  const headers: Record<string, string> = {};
  for (const [name, template] of Object.entries(service.headers)) {
    let missing = false;
    const value = template.replace(/\{([^{}]+)\}/g, (_, placeholder: string) => {
      const filled =
        placeholder === "apiKey"
          ? credential.apiKey
          : credential.additional?.[placeholder.slice("additional.".length)];
      if (filled === undefined || !isSendableCredential(filled.replaceAll(" ", "-"))) missing = true;
      return filled ?? "";
    });
    if (missing) return undefined;
    headers[name] = value;
  }
  return { name: service.name, url: service.baseUrl, headers };
}

/**
 * Checks a key for a stdio server the way a user would use it: start the server with the credential in its
 * environment (a throwaway process, never pooled), list its tools, stop it.
 */
export async function probeStdioMcp(
  service: Pick<StdioProxiedService, "type" | "name" | "stdio">,
  credential: CredentialParts,
  logger: StdioLogger,
): Promise<{ ok: true; tools: number } | RemoteFailureResult> {
  const pool = createStdioPool({ logger, maxProcesses: 1, maxPerUser: 1, restart: { maxAttempts: 1 } });
  try {
    const request = {
      userId: "probe",
      serviceType: service.type,
      credentialId: `probe-${randomUUID()}`,
      config: service.stdio,
      credential: {
        apiKey: credential.apiKey,
        ...(credential.additional && { additional: { ...credential.additional } }),
      },
    };
    const listed = await pool.use(request, (client) => client.listTools(undefined, { timeout: 10_000 }));
    if (listed.ok) return { ok: true, tools: listed.value.tools.length };
    return {
      ok: false,
      error: "SERVICE_UNAVAILABLE",
      message: `${service.name} did not start: ${listed.error.message}`,
    };
  } catch {
    return {
      ok: false,
      error: "INVALID_API_KEY",
      message: `${service.name} did not list its tools with this key`,
    };
  } finally {
    await pool.close();
  }
}
