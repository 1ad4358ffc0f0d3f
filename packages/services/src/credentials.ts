import type { ServiceDefinition } from "./types.ts";

/** A definition's `pattern` must match the whole value, never a part of it. */
export function matchesPattern(pattern: string, value: string): boolean {
  return new RegExp(`^(?:${pattern})$`).test(value);
}

export type AdditionalCheck =
  | { ok: true; value: Record<string, string> }
  | { ok: false; message: string; field: string };

/**
 * The `additionalCredentials` a user gave, checked against the fields the service declares: each declared
 * field present when required, within its length, matching its pattern; nothing undeclared. Values are
 * trimmed. Runs before anything reaches the upstream, so a bad site or email is never tried.
 */
export function checkAdditionalCredentials(
  service: Pick<ServiceDefinition, "name" | "additionalCredentials">,
  given: Readonly<Record<string, string>> | undefined,
): AdditionalCheck {
  const fields = service.additionalCredentials;
  const value: Record<string, string> = {};
  for (const name of Object.keys(given ?? {})) {
    if (!fields.some((f) => f.name === name)) {
      const expected = fields.length ? fields.map((f) => f.name).join(", ") : "none";
      return fail(name, `${service.name} takes no "${name}" (expected: ${expected})`);
    }
  }
  for (const field of fields) {
    const raw = given?.[field.name]?.trim() ?? "";
    if (raw === "") {
      if (field.required) return fail(field.name, `${field.label} is required for ${service.name}`);
      continue;
    }
    if (raw.length > field.maxLength) {
      return fail(field.name, `${field.label} is longer than ${field.maxLength} characters`);
    }
    if (field.pattern && !matchesPattern(field.pattern, raw)) {
      return fail(
        field.name,
        `${field.label} is not valid${field.description ? ` (${field.description})` : ""}`,
      );
    }
    value[field.name] = raw;
  }
  return { ok: true, value };
}

const fail = (field: string, message: string): AdditionalCheck => ({
  ok: false,
  field,
  message: `additionalCredentials.${field}: ${message}`,
});
