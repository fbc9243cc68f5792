import { describe, expect, it } from "vitest";
import { AppError } from "#app/lib/app-error.ts";
import { createUser } from "#tests/factories/index.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import { listAuditEvents, recordAuditEvent } from "./audit.server.ts";

const database = setupTestDatabase();
const deps = () => ({ db: database.db });

describe("audit events", () => {
  it("records an event with its context, and the table refuses to change it", async () => {
    const user = await createUser(database.db);
    const { id } = await recordAuditEvent(database.db, {
      userId: user.id,
      action: "api_key.created",
      targetType: "api_key",
      targetId: "k1",
      ip: "192.0.2.7",
      userAgent: "x".repeat(2000),
      data: { name: "CI" },
    });
    const row = await database.db.auditEvent.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ userId: user.id, actorType: "user", ip: "192.0.2.7", data: { name: "CI" } });
    expect(row.userAgent).toHaveLength(512);
    await expect(
      database.db.auditEvent.update({ where: { id }, data: { action: "edited" } }),
    ).rejects.toThrow(/append-only/);
  });

  it("lists only the user's own events, newest first, page by page with a cursor", async () => {
    const [alice, bob] = [await createUser(database.db), await createUser(database.db)];
    for (let i = 0; i < 7; i++) {
      await recordAuditEvent(database.db, { userId: alice.id, action: "auth.login.success", data: { i } });
      await recordAuditEvent(database.db, { userId: bob.id, action: "auth.login.success", data: { i } });
    }
    await recordAuditEvent(database.db, {
      userId: null,
      action: "auth.login.failed",
      data: { email: "x@y.z" },
    });

    const pages = [];
    let cursor: string | undefined;
    do {
      const page = await listAuditEvents({ userId: alice.id, cursor, limit: 3 }, deps());
      pages.push(page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);

    const seen = pages.flat();
    const expected = await database.db.auditEvent.findMany({
      where: { userId: alice.id },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    });
    expect(seen.map((e) => e.id)).toEqual(expected.map((e) => e.id));
    expect(new Set(seen.map((e) => e.id)).size).toBe(7);
    // Newest first.
    const times = seen.map((e) => e.createdAt.getTime());
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(Object.keys(seen[0]!).sort()).toEqual(
      ["action", "createdAt", "data", "id", "ip", "targetId", "targetType", "userAgent"].sort(),
    );

    const all = await listAuditEvents({ userId: alice.id }, deps());
    expect(all.items).toHaveLength(7);
    expect(all.nextCursor).toBeNull();
    // An exact multiple of the page size ends with nextCursor null, not an empty extra page.
    const exact = await listAuditEvents({ userId: alice.id, limit: 7 }, deps());
    expect(exact.nextCursor).toBeNull();
  });

  it("refuses another user's event as a cursor, and bad limits", async () => {
    const [alice, bob] = [await createUser(database.db), await createUser(database.db)];
    await recordAuditEvent(database.db, { userId: alice.id, action: "auth.signup" });
    const { id: bobsEvent } = await recordAuditEvent(database.db, { userId: bob.id, action: "auth.signup" });
    const error = await listAuditEvents({ userId: alice.id, cursor: bobsEvent }, deps()).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: "BAD_REQUEST" });
    for (const limit of [0, 101, 2.5]) {
      await expect(listAuditEvents({ userId: alice.id, limit }, deps())).rejects.toMatchObject({
        code: "BAD_REQUEST",
      });
    }
  });
});
