/**
 * Where to go after signing in: only a path on this site, never `//evil.example` or
 * `https://…` (an open redirect would turn our login page into a phishing tool).
 */
export function safeRedirect(target: FormDataEntryValue | string | null | undefined, fallback = "/"): string {
  if (
    typeof target !== "string" ||
    !target.startsWith("/") ||
    target.startsWith("//") ||
    target.includes("\\")
  ) {
    return fallback;
  }
  return target;
}
