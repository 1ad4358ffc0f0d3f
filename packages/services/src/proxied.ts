import type { RemoteMcpConfig } from "./remote-mcp.ts";
import { type CredentialParts, isSendableCredential } from "./request.ts";
import type { ProxiedServiceDefinition } from "./types.ts";

/**
 * The MCP server a proxied service's instance relays to, with the user's key (and extra fields) filled into
 * the headers its definition names; undefined when the credential cannot fill them (nothing is sent then).
 */
export function proxiedServerConfig(
  service: Pick<ProxiedServiceDefinition, "name" | "baseUrl" | "headers">,
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
