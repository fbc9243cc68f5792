/**
 * Provider credentials over tRPC and REST (`/api/v1/providers/...`). Every procedure needs
 * `providers:manage`; procedures parse, delegate and return. Secrets go in (add, rotate, test before
 * saving) and never come out: views carry a four-character hint.
 */
import { z } from "zod";
import { router, scopedProcedure, type TrpcContext } from "#app/trpc/init.server.ts";
import {
  ZAddCredentialInput,
  ZConnectionTestResult,
  ZCredentialId,
  ZCredentialView,
  ZProviderKind,
  ZRotateCredentialInput,
} from "./ai.types.ts";
import {
  addCredential,
  type CredentialsDeps,
  deleteCredential,
  listCredentials,
  rotateCredential,
  serverProviders,
  testConnection,
  testCredential,
} from "./credentials.server.ts";

const manage = scopedProcedure("providers:manage");
const tags = ["providers"];
const ZId = z.object({ id: ZCredentialId });

/** Test a key before saving it: the add form's fields without the name (checked again by the service). */
export const ZTestConnectionInput = z.object({
  provider: ZProviderKind,
  apiKey: z.string().trim().max(4096, "API key is too long").default(""),
  baseUrl: z.string().trim().max(2048).optional(),
});

const ZServerProviders = z.object({
  openai: z.boolean(),
  anthropic: z.boolean(),
  compat: z.array(z.string()),
  demo: z.boolean(),
});

/** The credentials use cases' deps from the request: the AI runtime, and who to name on audit events. */
function aiDeps(ctx: TrpcContext & { auth: { apiKeyId: string | null } }): CredentialsDeps {
  return {
    db: ctx.db,
    keyring: ctx.ai.keyring,
    config: ctx.ai.config,
    logger: ctx.logger,
    ip: ctx.client.ip ?? undefined,
    userAgent: ctx.client.userAgent ?? undefined,
    actorApiKeyId: ctx.auth.apiKeyId,
  };
}

export const credentialsRouter = router({
  list: manage
    .meta({
      openapi: {
        method: "GET",
        path: "/providers/credentials",
        tags,
        summary:
          "Your provider credentials (never the key), and which providers the server itself has keys for",
      },
    })
    .input(z.void())
    .output(z.object({ items: z.array(ZCredentialView), server: ZServerProviders }))
    .query(async ({ ctx }) => ({
      items: await listCredentials({ userId: ctx.auth.userId }, { db: ctx.db }),
      server: serverProviders(ctx.ai.config),
    })),

  add: manage
    .meta({
      openapi: {
        method: "POST",
        path: "/providers/credentials",
        tags,
        summary: "Store a provider credential, encrypted (201); 409 when the provider and name exist",
      },
    })
    .input(ZAddCredentialInput)
    .output(ZCredentialView)
    .mutation(async ({ ctx, input }) => {
      const created = await addCredential({ userId: ctx.auth.userId, ...input }, aiDeps(ctx));
      ctx.ai.service.invalidateUser(ctx.auth.userId);
      ctx.response.setStatus(201);
      return created;
    }),

  rotate: manage
    .meta({
      openapi: {
        method: "POST",
        path: "/providers/credentials/{id}/rotate",
        tags,
        summary: "Replace a credential's API key",
      },
    })
    .input(ZRotateCredentialInput)
    .output(ZCredentialView)
    .mutation(async ({ ctx, input }) => {
      const rotated = await rotateCredential({ userId: ctx.auth.userId, ...input }, aiDeps(ctx));
      ctx.ai.service.invalidateUser(ctx.auth.userId);
      return rotated;
    }),

  delete: manage
    .meta({
      openapi: {
        method: "DELETE",
        path: "/providers/credentials/{id}",
        tags,
        summary: "Delete a credential",
      },
    })
    .input(ZId)
    .output(z.object({ ok: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      const result = await deleteCredential({ userId: ctx.auth.userId, id: input.id }, aiDeps(ctx));
      ctx.ai.service.invalidateUser(ctx.auth.userId);
      return result;
    }),

  test: manage
    .meta({
      openapi: {
        method: "POST",
        path: "/providers/credentials/{id}/test",
        tags,
        summary: "List the endpoint's models with a stored credential (ok: false with the reason on failure)",
      },
    })
    .input(ZId)
    .output(ZConnectionTestResult)
    .mutation(({ ctx, input }) => testCredential({ userId: ctx.auth.userId, id: input.id }, aiDeps(ctx))),

  testUnsaved: manage
    .meta({
      openapi: {
        method: "POST",
        path: "/providers/test",
        tags,
        summary: "Test a key before saving it: list the endpoint's models (nothing is stored)",
      },
    })
    .input(ZTestConnectionInput)
    .output(ZConnectionTestResult)
    .mutation(({ ctx, input }) => testConnection({ userId: ctx.auth.userId, ...input }, aiDeps(ctx))),
});
