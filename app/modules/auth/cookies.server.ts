import { parse, serialize } from "cookie";

/** Names of the two session cookies. Both HttpOnly: page scripts never see a token. */
export const ACCESS_COOKIE = "agentry_at";
export const REFRESH_COOKIE = "agentry_rt";

export type CookieContext = {
  /** Secure cookies everywhere but plain-http localhost, where browsers would drop them. */
  secure: boolean;
};

const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

/** Whether cookies for this request must be Secure: yes unless it is plain http on a loopback host. */
export function cookieContextFor({
  protocol,
  host,
}: {
  protocol: string;
  host: string | undefined;
}): CookieContext {
  const hostname = (host ?? "").replace(/:\d+$/, "").toLowerCase();
  return { secure: protocol === "https" || !LOCAL_HOSTS.has(hostname) };
}

export function readSessionCookies(header: string | undefined | null): {
  accessToken?: string;
  refreshToken?: string;
} {
  if (!header) return {};
  const cookies = parse(header);
  return {
    accessToken: cookies[ACCESS_COOKIE] || undefined,
    refreshToken: cookies[REFRESH_COOKIE] || undefined,
  };
}

/** Set-Cookie values for a fresh access token and, when rotated, a fresh refresh token. */
export function sessionCookies(
  {
    accessToken,
    accessExpiresAt,
    refreshToken,
    refreshExpiresAt,
  }: { accessToken: string; accessExpiresAt: Date; refreshToken?: string | null; refreshExpiresAt?: Date },
  { secure }: CookieContext,
): string[] {
  const base = { httpOnly: true, secure, sameSite: "lax" as const, path: "/" };
  const cookies = [serialize(ACCESS_COOKIE, accessToken, { ...base, expires: accessExpiresAt })];
  if (refreshToken && refreshExpiresAt) {
    cookies.push(serialize(REFRESH_COOKIE, refreshToken, { ...base, expires: refreshExpiresAt }));
  }
  return cookies;
}

/** Set-Cookie values that delete both session cookies. */
export function clearedSessionCookies({ secure }: CookieContext): string[] {
  const base = { httpOnly: true, secure, sameSite: "lax" as const, path: "/", expires: new Date(0) };
  return [serialize(ACCESS_COOKIE, "", base), serialize(REFRESH_COOKIE, "", base)];
}
