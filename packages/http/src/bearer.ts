/** The credential of an `Authorization: Bearer <credential>` header, or "" when there is none. */
export function bearerToken(authorization: string | undefined): string {
  return /^Bearer\s+(\S+)$/i.exec(authorization ?? "")?.[1] ?? "";
}
