/**
 * Keyset ("cursor") pagination for lists ordered newest first by a timestamp, then id: the cursor is the id
 * of the last item of the previous page; the next page starts after that item's CURRENT position (an item
 * that moved in between may show on an earlier page). Pages answer `{ items, nextCursor }`; without a
 * limit, everything and a null cursor.
 */
import { AppError } from "./app-error.ts";
import { isUuid } from "./use-case.ts";

export type Page<T> = { items: T[]; nextCursor: string | null };

const badCursor = () =>
  new AppError("BAD_REQUEST", "Invalid cursor: pass the nextCursor of the previous page");

/**
 * The Prisma `where` fragment selecting what comes after `cursor` in a (`field` desc, id desc) order, or {}
 * without a cursor. `find` reads the cursor's row among the caller's own (scoped!); BAD_REQUEST when it
 * is not a uuid or not found.
 */
export async function afterCursor<F extends string>(
  cursor: string | undefined,
  field: F,
  find: (id: string) => Promise<({ id: string } & { [K in F]: Date }) | null>,
): Promise<{ OR?: Array<Record<string, unknown>> }> {
  if (cursor === undefined) return {};
  if (!isUuid(cursor)) throw badCursor();
  const at = await find(cursor);
  if (!at) throw badCursor();
  return { OR: [{ [field]: { lt: at[field] } }, { [field]: at[field], id: { lt: at.id } }] };
}

/** How many rows to read for a page of `limit` (one more, to know whether another page follows). */
export const takeFor = (limit: number | undefined) => (limit === undefined ? undefined : limit + 1);

/** Cut what was read (with takeFor) into the page and the next cursor. */
export function pageOf<T extends { id: string }>(rows: T[], limit: number | undefined): Page<T> {
  if (limit === undefined || rows.length <= limit) return { items: rows, nextCursor: null };
  const items = rows.slice(0, limit);
  return { items, nextCursor: items[items.length - 1]!.id };
}
