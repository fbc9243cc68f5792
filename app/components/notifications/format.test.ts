import { describe, expect, it } from "vitest";
import {
  badgeText,
  bellLabel,
  flattenPages,
  formatRelativeTime,
  isFailureKind,
  isOnRunPage,
  kindMeta,
  markReadInCache,
  parseStreamNotification,
  pushToast,
  runHref,
} from "./format.ts";

const RUN = "5b0e6a4e-0a58-4c1e-9a55-2d1f2c8e4f10";

describe("kinds", () => {
  it("gives each kind its own label, icon and colour", () => {
    expect(kindMeta("run_succeeded")).toMatchObject({ label: "Succeeded", icon: "check" });
    expect(kindMeta("run_succeeded").chip).toContain("emerald");
    expect(kindMeta("run_failed")).toMatchObject({ label: "Failed", icon: "cross" });
    expect(kindMeta("run_failed").chip).toContain("red");
    expect(kindMeta("run_cancelled")).toMatchObject({ label: "Cancelled", icon: "stop" });
    expect(kindMeta("run_cancelled").chip).toContain("amber");
    expect(kindMeta("run_dead")).toMatchObject({ label: "Stopped", icon: "alert" });
    // Every colour has its dark-mode counterpart.
    for (const kind of ["run_succeeded", "run_failed", "run_cancelled", "run_dead"]) {
      expect(kindMeta(kind).chip).toMatch(/dark:bg-/);
      expect(kindMeta(kind).chip).toMatch(/dark:text-/);
      expect(kindMeta(kind).edge).toMatch(/dark:border-l-/);
    }
  });

  it("shows a kind it does not know in a neutral look instead of failing", () => {
    expect(kindMeta("budget_reached")).toMatchObject({ label: "Update", icon: "alert" });
    expect(kindMeta("budget_reached").chip).toContain("zinc");
  });

  it("tells failures apart", () => {
    expect(isFailureKind("run_failed")).toBe(true);
    expect(isFailureKind("run_dead")).toBe(true);
    expect(isFailureKind("run_succeeded")).toBe(false);
    expect(isFailureKind("run_cancelled")).toBe(false);
  });
});

describe("formatRelativeTime", () => {
  const now = new Date(2025, 5, 15, 12, 0, 0);
  const ago = (ms: number) => new Date(now.getTime() - ms);
  const MIN = 60_000;
  const HOUR = 60 * MIN;
  const DAY = 24 * HOUR;

  it("reads like speech for the last week", () => {
    expect(formatRelativeTime(ago(0), now)).toBe("just now");
    expect(formatRelativeTime(ago(44_000), now)).toBe("just now");
    expect(formatRelativeTime(ago(50_000), now)).toBe("1 minute ago");
    expect(formatRelativeTime(ago(5 * MIN), now)).toBe("5 minutes ago");
    expect(formatRelativeTime(ago(59 * MIN), now)).toBe("59 minutes ago");
    expect(formatRelativeTime(ago(HOUR), now)).toBe("1 hour ago");
    expect(formatRelativeTime(ago(3 * HOUR), now)).toBe("3 hours ago");
    expect(formatRelativeTime(ago(DAY), now)).toBe("yesterday");
    expect(formatRelativeTime(ago(4 * DAY), now)).toBe("4 days ago");
  });

  it("gives a date after a week, with the year when it is not this one", () => {
    expect(formatRelativeTime(new Date(2025, 2, 5, 9, 0), now)).toBe("Mar 5");
    expect(formatRelativeTime(new Date(2024, 11, 24, 9, 0), now)).toBe("Dec 24, 2024");
  });

  it("accepts ISO strings, treats a slightly future time as now, and an invalid one as unknown", () => {
    expect(formatRelativeTime(ago(2 * HOUR).toISOString(), now)).toBe("2 hours ago");
    expect(formatRelativeTime(new Date(now.getTime() + 5_000), now)).toBe("just now");
    expect(formatRelativeTime("not a date", now)).toBe("");
  });
});

describe("bell", () => {
  it("names the unread count and caps the badge", () => {
    expect(bellLabel(0)).toBe("Notifications, 0 unread");
    expect(bellLabel(3)).toBe("Notifications, 3 unread");
    expect(badgeText(7)).toBe("7");
    expect(badgeText(99)).toBe("99");
    expect(badgeText(100)).toBe("99+");
    expect(badgeText(12, 9)).toBe("9+");
  });
});

describe("parseStreamNotification", () => {
  const event = {
    id: "n1",
    seq: 42,
    kind: "run_failed",
    title: "Review failed",
    body: 'Step "plan": {{project.files["missing.md"]}} is missing',
    runId: RUN,
    readAt: null,
    createdAt: "2025-06-15T10:00:00.000Z",
  };

  it("turns the event's JSON into an item with dates", () => {
    const item = parseStreamNotification(JSON.stringify(event));
    expect(item).toEqual({ ...event, createdAt: new Date("2025-06-15T10:00:00.000Z") });
    expect(item?.createdAt).toBeInstanceOf(Date);
  });

  it("fills optional fields and accepts a seq sent as a string (a bigint on the server)", () => {
    const { body: _b, runId: _r, readAt: _x, ...rest } = event;
    expect(parseStreamNotification(JSON.stringify({ ...rest, seq: "7" }))).toMatchObject({
      seq: 7,
      body: null,
      runId: null,
      readAt: null,
    });
    const read = parseStreamNotification(JSON.stringify({ ...event, readAt: "2025-06-15T11:00:00.000Z" }));
    expect(read?.readAt).toEqual(new Date("2025-06-15T11:00:00.000Z"));
  });

  it("returns null for what is not a notification", () => {
    expect(parseStreamNotification("not json")).toBeNull();
    expect(parseStreamNotification("null")).toBeNull();
    expect(parseStreamNotification(JSON.stringify({ id: "n1" }))).toBeNull();
    expect(parseStreamNotification(JSON.stringify({ ...event, createdAt: "yesterday-ish" }))).toBeNull();
  });
});

describe("where the user is", () => {
  it("links to the run page and knows when the user is on it", () => {
    expect(runHref(RUN)).toBe(`/runs/${RUN}`);
    expect(isOnRunPage(`/runs/${RUN}`, RUN)).toBe(true);
    expect(isOnRunPage(`/runs/${RUN}/steps`, RUN)).toBe(true);
    expect(isOnRunPage(`/runs/${RUN}x`, RUN)).toBe(false);
    expect(isOnRunPage("/runs", RUN)).toBe(false);
    expect(isOnRunPage("/projects", RUN)).toBe(false);
    expect(isOnRunPage(`/runs/${RUN}`, null)).toBe(false);
  });
});

describe("pushToast", () => {
  const t = (id: string) => ({ id });

  it("keeps the newest three, newest last", () => {
    let stack: Array<{ id: string }> = [];
    for (const id of ["a", "b", "c"]) stack = pushToast(stack, t(id));
    expect(stack.map((x) => x.id)).toEqual(["a", "b", "c"]);
    stack = pushToast(stack, t("d"));
    expect(stack.map((x) => x.id)).toEqual(["b", "c", "d"]);
    expect(pushToast(stack, t("e"), 1).map((x) => x.id)).toEqual(["e"]);
  });

  it("does not show the same notification twice and leaves the input untouched", () => {
    const stack = [t("a"), t("b")];
    const next = pushToast(stack, t("a"));
    expect(next.map((x) => x.id)).toEqual(["a", "b"]);
    pushToast(stack, t("c"));
    expect(stack.map((x) => x.id)).toEqual(["a", "b"]);
  });
});

describe("the cached list", () => {
  const now = new Date("2025-06-15T12:00:00.000Z");
  const item = (id: string, read = false) => ({
    id,
    seq: Number(id.slice(1)),
    kind: "run_succeeded" as const,
    title: `Run ${id} succeeded`,
    body: null,
    runId: null,
    readAt: read ? new Date("2025-06-15T11:00:00.000Z") : null,
    createdAt: new Date("2025-06-15T10:00:00.000Z"),
  });
  const page = { items: [item("n3"), item("n2", true), item("n1")], unreadCount: 5, nextCursor: "c1" };

  it("marks the given items read and lowers the count by those that were unread", () => {
    const next = markReadInCache(page, ["n3", "n2"], now);
    expect(next.items.map((i) => i.readAt)).toEqual([now, item("n2", true).readAt, null]);
    expect(next.unreadCount).toBe(4);
    expect(next.nextCursor).toBe("c1");
    // The input is untouched (React Query compares references).
    expect(page.items[0]!.readAt).toBeNull();
  });

  it("marks everything read across the pages of an infinite query", () => {
    const older = { items: [item("n0")], unreadCount: 5, nextCursor: null };
    const data = { pages: [page, older], pageParams: [null, "c1"] };
    const next = markReadInCache(data, undefined, now);
    expect(next.pages.flatMap((p) => p.items).every((i) => i.readAt !== null)).toBe(true);
    expect(next.pages.map((p) => p.unreadCount)).toEqual([0, 0]);
    expect(next.pageParams).toEqual([null, "c1"]);
    expect(markReadInCache(undefined, undefined, now)).toBeUndefined();
  });

  it("never counts below zero", () => {
    expect(markReadInCache({ ...page, unreadCount: 1 }, ["n3", "n1"], now).unreadCount).toBe(0);
  });

  it("flattens pages, newest first, without repeats", () => {
    const older = { items: [item("n1"), item("n0")], unreadCount: 5, nextCursor: null };
    const flat = flattenPages({ pages: [page, older], pageParams: [null, "c1"] });
    expect(flat.items.map((i) => i.id)).toEqual(["n3", "n2", "n1", "n0"]);
    expect(flat.unreadCount).toBe(5);
    expect(flattenPages(page).items).toHaveLength(3);
    expect(flattenPages(undefined)).toEqual({ items: [], unreadCount: 0 });
  });
});
