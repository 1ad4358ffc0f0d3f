import { type ErrorInfo, errorInfo } from "../trpc.ts";

export interface FieldError {
  /** Which field the message belongs to: the key, an additional credential's name, or the form. */
  field: string;
  message: string;
  /** The platform's code and the answer's request id, for support. */
  code?: string;
  requestId?: string;
}

/** A failed connect in plain words, attached to the field it is about. */
export function connectError(err: unknown, serviceName: string, fieldNames: string[]): FieldError {
  const info: ErrorInfo = errorInfo(err);
  const base = { code: info.code, requestId: info.requestId };
  switch (info.code) {
    case "INVALID_API_KEY":
      return {
        ...base,
        field: "apiKey",
        message: `${serviceName} did not accept this key. Check that you copied all of it and that it has not expired or been revoked.`,
      };
    case "SERVICE_UNAVAILABLE":
      return {
        ...base,
        field: "form",
        message: `${serviceName} could not be reached just now, so the key could not be checked. Nothing was saved; try again in a minute.`,
      };
    case "RATE_LIMIT_EXCEEDED":
      return { ...base, field: "form", message: "Too many attempts. Wait a minute, then try again." };
    case "CONFLICT":
      return {
        ...base,
        field: "apiKey",
        message: `This key belongs to another ${serviceName} account. To switch accounts, connect it as new: you get a new URL.`,
      };
    case "BAD_REQUEST": {
      // The server names the field it refused (`additionalCredentials.site: Jira site is not valid …`, or the
      // validator's path): the message goes on that field, without the name.
      const prefixed = /^additionalCredentials\.([\w-]+): (.*)$/s.exec(info.message);
      const path = prefixed?.[1] ?? info.field?.replace(/^additionalCredentials\./, "");
      const message = prefixed?.[2] ?? info.message;
      const named =
        fieldNames.find((f) => f === path) ??
        fieldNames.find((f) => message.toLowerCase().includes(f.toLowerCase()));
      return {
        ...base,
        field: named ?? (path === "apiKey" || /api ?key/i.test(message) ? "apiKey" : "form"),
        message: capitalised(message),
      };
    }
    default:
      return { ...base, field: "form", message: info.message };
  }
}

const capitalised = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
