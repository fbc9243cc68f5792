/**
 * Auth schemas shared by forms (client and server validation), tRPC and REST. No server code here:
 * this file is bundled into the browser.
 */
import { z } from "zod";

/** Every scope an API key can carry. Sessions (browser or Bearer JWT) hold all of them. */
export const SCOPES = [
  "projects:read",
  "projects:write",
  "workflows:read",
  "workflows:write",
  "runs:read",
  "runs:write",
  "keys:manage",
  "providers:manage",
  "usage:read",
  "budgets:manage",
] as const;
export type Scope = (typeof SCOPES)[number];
export const ZScope = z.enum(SCOPES);

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/** Trimmed and lower-cased before it is validated, so `" Ann@X.io"` and `"ann@x.io"` are one account. */
export const ZEmail = z
  .string()
  .trim()
  .toLowerCase()
  .max(254, "Email must be at most 254 characters")
  .pipe(z.email({ message: "Enter a valid email address" }));

export const PASSWORD_MIN_LENGTH = 10;
/** argon2 prehashes any length cheaply, but an unbounded body is still a cheap way to waste our time. */
export const PASSWORD_MAX_LENGTH = 1024;

export const ZPassword = z
  .string()
  .min(PASSWORD_MIN_LENGTH, `Password must be at least ${PASSWORD_MIN_LENGTH} characters`)
  .max(PASSWORD_MAX_LENGTH, `Password must be at most ${PASSWORD_MAX_LENGTH} characters`);

/** A password being checked rather than chosen: any non-empty string (old policies may have allowed shorter). */
const ZPresentedPassword = z
  .string()
  .min(1, "Enter your password")
  .max(PASSWORD_MAX_LENGTH, `Password must be at most ${PASSWORD_MAX_LENGTH} characters`);

export const ZName = z
  .string()
  .trim()
  .min(1, "Enter your name")
  .max(100, "Name must be at most 100 characters");

export const ZSignupInput = z.object({ email: ZEmail, password: ZPassword, name: ZName });
export type TSignupInput = z.infer<typeof ZSignupInput>;

export const ZLoginInput = z.object({ email: ZEmail, password: ZPresentedPassword });
export type TLoginInput = z.infer<typeof ZLoginInput>;

export const ZChangePasswordInput = z.object({
  /** Required when the account has a password; accounts that only sign in with GitHub set their first one. */
  currentPassword: z.string().max(1024).optional(),
  newPassword: ZPassword,
});
export type TChangePasswordInput = z.infer<typeof ZChangePasswordInput>;

export const ZCreateApiKeyInput = z.object({
  name: z.string().trim().min(1, "Enter a name").max(100, "Name must be at most 100 characters"),
  scopes: z
    .array(ZScope)
    .min(1, "Choose at least one scope")
    .max(50)
    .transform((scopes) => [...new Set(scopes)]),
  expiresAt: z.coerce
    .date()
    .refine((date) => date.getTime() > Date.now(), "Expiry must be in the future")
    .optional(),
});
export type TCreateApiKeyInput = z.input<typeof ZCreateApiKeyInput>;

// ─── Views (outputs) ─────────────────────────────────────────────────────────

export const ZPublicUser = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string().nullable(),
  createdAt: z.date(),
});
export type PublicUser = z.infer<typeof ZPublicUser>;

export const ZApiKeyView = z.object({
  id: z.string(),
  name: z.string(),
  /** First 12 characters of the key (`agt_` + 8), enough to recognise it in a list or a log. */
  prefix: z.string(),
  scopes: z.array(ZScope),
  createdAt: z.date(),
  lastUsedAt: z.date().nullable(),
  expiresAt: z.date().nullable(),
  revokedAt: z.date().nullable(),
});
export type ApiKeyView = z.infer<typeof ZApiKeyView>;

/** Returned by creation only: the one time the whole key is ever shown. */
export const ZCreatedApiKey = ZApiKeyView.extend({ key: z.string() });
export type CreatedApiKey = z.infer<typeof ZCreatedApiKey>;

/** A session is a refresh-token family: everything descended from one sign-in. */
export const ZSessionView = z.object({
  /** The family id (the JWT's `sid`). */
  id: z.string(),
  /** Device and address of the most recent use. */
  userAgent: z.string().nullable(),
  ip: z.string().nullable(),
  /** When the user signed in. */
  createdAt: z.date(),
  lastUsedAt: z.date(),
  /** True for the session making the request. */
  current: z.boolean(),
});
export type SessionView = z.infer<typeof ZSessionView>;

export const ZAuditEventView = z.object({
  id: z.string(),
  action: z.string(),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  targetType: z.string().nullable(),
  targetId: z.string().nullable(),
  data: z.unknown(),
  createdAt: z.date(),
});
export type AuditEventView = z.infer<typeof ZAuditEventView>;

// ─── Pagination ──────────────────────────────────────────────────────────────

/** Cursor pagination: pass the previous page's `nextCursor` to get the next one. */
export const ZPageInput = z.object({
  cursor: z.uuid({ message: "cursor must be a UUID" }).optional(),
  // coerce: over REST this arrives as a query-string value.
  limit: z.coerce.number().int().min(1).max(100).default(50),
});
export type TPageInput = z.input<typeof ZPageInput>;

/** `{ items, nextCursor }`; nextCursor is null on the last page. */
export function zPage<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.uuid().nullable() });
}

export const ZAuditEventPage = zPage(ZAuditEventView);
export type AuditEventPage = z.infer<typeof ZAuditEventPage>;
