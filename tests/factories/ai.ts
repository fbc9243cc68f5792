import { randomBytes } from "node:crypto";
import type { DbOrTx, Prisma } from "#app/db/client.server.ts";

/**
 * One AiCall row, as the AI proxy would record it: an OpenAI call of 100 tokens in, 20 out, costing
 * 1,000 micro-dollars, with a unique prompt hash. `createdAt` defaults to the database's now().
 */
export function createAiCall(
  db: DbOrTx,
  { userId, ...overrides }: { userId: string } & Partial<Omit<Prisma.AiCallUncheckedCreateInput, "userId">>,
) {
  return db.aiCall.create({
    data: {
      userId,
      provider: "openai",
      model: "gpt-4.1-mini",
      promptHash: randomBytes(16).toString("hex"),
      tokensIn: 100,
      tokensOut: 20,
      costMicros: 1_000n,
      ...overrides,
    },
  });
}
