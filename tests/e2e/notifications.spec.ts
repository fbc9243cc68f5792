import type { Page } from "@playwright/test";
import { newAccount, signUp } from "./auth-helpers.ts";
import { expect, test } from "./fixtures.ts";

const SHOTS = "test-results/screenshots";

type Step = Record<string, unknown>;

/** A project and one workflow in it, through the REST API the page's cookies open (the builder is tested elsewhere). */
async function workflow(page: Page, name: string, steps: Step[]): Promise<string> {
  const project = await page.request.post("/api/v1/projects", { data: { name: `${name} project` } });
  expect(project.status(), await project.text()).toBe(201);
  const { id: projectId } = (await project.json()) as { id: string };
  const created = await page.request.post(`/api/v1/projects/${projectId}/workflows`, {
    data: { name, definition: { steps } },
  });
  expect(created.status(), await created.text()).toBe(201);
  return ((await created.json()) as { id: string }).id;
}

async function startRun(page: Page, workflowId: string): Promise<string> {
  const started = await page.request.post(`/api/v1/workflows/${workflowId}/runs`, { data: {} });
  expect(started.status(), await started.text()).toBe(202);
  return ((await started.json()) as { runId: string }).runId;
}

/** The stream only carries what happens after it opened: wait for it before starting a run. */
async function streamOpen(page: Page) {
  await expect(page.getByRole("region", { name: "Run notifications" })).toHaveAttribute(
    "data-stream",
    "open",
  );
}

const bell = (page: Page, unread: number) =>
  page.getByRole("button", { name: `Notifications, ${unread} unread`, exact: true });

const TRANSFORM = [{ id: "greet", type: "transform", template: "Hello from {{project.name}}" }];

test("a finished run is announced wherever the user is: toast, bell, list, mark all read", async ({
  page,
}) => {
  await signUp(page, newAccount("notify"));
  const workflowId = await workflow(page, "Nightly summary", TRANSFORM);

  await page.goto("/projects");
  await streamOpen(page);
  await expect(bell(page, 0)).toBeVisible();
  await expect(page.getByTestId("notification-badge")).toHaveCount(0);
  // Nothing yet.
  await bell(page, 0).click();
  const panel = page.getByRole("menu", { name: "Notifications" });
  await expect(panel.getByText("No notifications yet")).toBeVisible();
  await expect(panel.getByRole("menuitem", { name: "Mark all read" })).toHaveAttribute(
    "aria-disabled",
    "true",
  );
  await page.keyboard.press("Escape");

  // The run starts elsewhere (a script, another tab); the user stays on the dashboard.
  const runId = await startRun(page, workflowId);
  const toast = page.getByTestId("notification-toast");
  await expect(toast).toHaveCount(1);
  await expect(toast).toContainText('"Nightly summary" succeeded');
  await expect(toast).toHaveAttribute("data-kind", "run_succeeded");
  await expect(bell(page, 1)).toBeVisible();
  await expect(page.getByTestId("notification-badge")).toHaveText("1");
  await expect(page).toHaveURL(/\/projects$/);

  // Screenshots of the toast; the pointer on it holds it (it would leave after 6 s).
  await toast.hover();
  await page.screenshot({ path: `${SHOTS}/notifications-toast-light.png` });
  await page.emulateMedia({ colorScheme: "dark" });
  await expect(page.locator("html")).toHaveClass(/dark/);
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${SHOTS}/notifications-toast-dark.png` });
  await page.emulateMedia({ colorScheme: "light" });

  await toast.getByRole("link", { name: "View run" }).click();
  await expect(page).toHaveURL(new RegExp(`/runs/${runId}$`));
  await expect(toast).toHaveCount(0);
  // Seeing the run is not reading the notification: the bell still counts it.
  await expect(bell(page, 1)).toBeVisible();

  // The list, by keyboard: Enter opens it, the item is there with its status and time.
  await bell(page, 1).focus();
  await page.keyboard.press("Enter");
  await expect(panel).toBeVisible();
  const item = panel.getByTestId("notification-item");
  await expect(item).toHaveCount(1);
  await expect(item).toContainText('"Nightly summary" succeeded');
  await expect(item).toContainText("just now");
  await expect(item).toHaveAttribute("data-unread", "true");
  await expect(item).toHaveAttribute("href", `/runs/${runId}`);
  await expect(panel).toContainText("1 unread");
  await page.screenshot({ path: `${SHOTS}/notifications-list-light.png` });
  await page.emulateMedia({ colorScheme: "dark" });
  await expect(page.locator("html")).toHaveClass(/dark/);
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${SHOTS}/notifications-list-dark.png` });
  await page.emulateMedia({ colorScheme: "light" });

  // Mark all read: the row turns read, the badge goes, and it stays so after a reload.
  await panel.getByRole("menuitem", { name: "Mark all read" }).click();
  await expect(item).toHaveAttribute("data-unread", "false");
  await expect(panel).not.toContainText("1 unread");
  await page.keyboard.press("Escape");
  await expect(bell(page, 0)).toBeVisible();
  await expect(page.getByTestId("notification-badge")).toHaveCount(0);
  await page.reload();
  await expect(bell(page, 0)).toBeVisible();
  const listed = await page.request.get("/api/v1/notifications?unreadOnly=true");
  expect(listed.status()).toBe(200);
  expect(((await listed.json()) as { unreadCount: number }).unreadCount).toBe(0);
});

test("a failed run gets a failure toast with its error; the stack keeps three; choosing one marks it read", async ({
  page,
}) => {
  await signUp(page, newAccount("notify-fail"));
  const broken = await workflow(page, "Broken", [
    { id: "read", type: "transform", template: 'Notes: {{project.files["missing.md"]}}' },
  ]);
  await page.goto("/projects");
  await streamOpen(page);

  const failedRun = await startRun(page, broken);
  const toast = page.getByTestId("notification-toast");
  await expect(toast).toHaveCount(1);
  await expect(toast).toHaveAttribute("data-kind", "run_failed");
  await expect(toast).toContainText('"Broken" failed');
  // The error message is the body.
  await expect(toast).toContainText("missing.md");
  await toast.hover();
  await page.screenshot({ path: `${SHOTS}/notifications-toast-failed-light.png` });
  await page.mouse.move(0, 0);

  // Three more runs: at most three toasts at once, the oldest (the failure) leaves first.
  const fine = await workflow(page, "Fine", TRANSFORM);
  for (let i = 0; i < 3; i++) await startRun(page, fine);
  await expect(bell(page, 4)).toBeVisible();
  await expect(toast).toHaveCount(3);
  await expect(toast.filter({ hasText: '"Broken" failed' })).toHaveCount(0);

  // The close button removes one.
  await toast
    .first()
    .getByRole("button", { name: /^Dismiss/ })
    .click();
  await expect(toast).toHaveCount(2);

  // Choosing the failure in the list opens its run and marks just that one read.
  await bell(page, 4).click();
  const panel = page.getByRole("menu", { name: "Notifications" });
  const failure = panel.getByTestId("notification-item").filter({ hasText: '"Broken" failed' });
  await expect(failure).toContainText("missing.md");
  await expect(panel.getByTestId("notification-item")).toHaveCount(4);
  await page.emulateMedia({ colorScheme: "dark" });
  await expect(page.locator("html")).toHaveClass(/dark/);
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${SHOTS}/notifications-list-failed-dark.png` });
  await page.emulateMedia({ colorScheme: "light" });
  await failure.click();
  await expect(page).toHaveURL(new RegExp(`/runs/${failedRun}$`));
  await expect(bell(page, 3)).toBeVisible();
});

test("no toast for the run whose page is open; toasts leave after a while unless hovered", async ({
  page,
}) => {
  test.setTimeout(60_000);
  await signUp(page, newAccount("notify-page"));
  // A model step on the slow scripted model (~1.3 s) leaves time to open the run's page before it ends.
  const slow = await workflow(page, "Slow draft", [
    { id: "draft", type: "llm", model: "compat:demo/slow", prompt: "Draft a summary" },
  ]);
  await page.goto("/projects");
  await streamOpen(page);

  const runId = await startRun(page, slow);
  // In-app navigation (as a click would do): the page, and its notification stream, stay.
  await page.evaluate((to) => {
    (window as unknown as { __remixRouter: { navigate: (to: string) => unknown } }).__remixRouter.navigate(
      to,
    );
  }, `/runs/${runId}`);
  await expect(page).toHaveURL(new RegExp(`/runs/${runId}$`));
  // The notification arrives (the bell counts it) but the page itself shows the outcome: no toast.
  await expect(bell(page, 1)).toBeVisible({ timeout: 15_000 });
  await expect(page.getByTestId("notification-toast")).toHaveCount(0);

  // Elsewhere, a toast shows; held while hovered, gone ~6 s after the pointer leaves.
  const quick = await workflow(page, "Quick", TRANSFORM);
  await page.getByRole("link", { name: "Projects", exact: true }).click();
  await expect(page).toHaveURL(/\/projects$/);
  await startRun(page, quick);
  const toast = page.getByTestId("notification-toast");
  await expect(toast).toHaveCount(1);
  await toast.hover();
  await page.waitForTimeout(7_000);
  await expect(toast).toHaveCount(1);
  await page.mouse.move(0, 0);
  await expect(toast).toHaveCount(0, { timeout: 9_000 });
  await expect(bell(page, 2)).toBeVisible();
});

test("a refused stream is reopened, and what happened meanwhile is in the list", async ({ page }) => {
  await signUp(page, newAccount("notify-retry"));
  const workflowId = await workflow(page, "Offline", TRANSFORM);
  // The server refuses the stream (an expired session would): the browser gives up on that EventSource.
  let refused = 0;
  await page.route("**/api/v1/notifications/stream", (route) => {
    refused += 1;
    return route.fulfill({ status: 401, contentType: "application/json", body: '{"error":{}}' });
  });
  await page.goto("/projects");
  await expect.poll(() => refused).toBeGreaterThan(0);
  await expect(page.getByRole("region", { name: "Run notifications" })).toHaveAttribute(
    "data-stream",
    "reconnecting",
  );
  // A run finishes while the stream is down: no toast can come, the page keeps working.
  await startRun(page, workflowId);
  await expect
    .poll(async () => {
      const list = await page.request.get("/api/v1/notifications");
      return ((await list.json()) as { unreadCount: number }).unreadCount;
    })
    .toBe(1);
  // The server takes it again: the hook reopens the stream by itself and refreshes the count.
  await page.unroute("**/api/v1/notifications/stream");
  await streamOpen(page);
  await expect(bell(page, 1)).toBeVisible();
  // And it is live again.
  await startRun(page, workflowId);
  await expect(page.getByTestId("notification-toast")).toContainText('"Offline" succeeded');
  await expect(bell(page, 2)).toBeVisible();
});
