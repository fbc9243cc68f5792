import { signUp } from "./auth-helpers.ts";
import { expect, test } from "./fixtures.ts";

test("status page: loader reads the database, the browser queries tRPC, a worker completes a job", async ({
  page,
}) => {
  const trpcRequests: string[] = [];
  page.on("request", (req) => {
    if (req.url().includes("/api/trpc/")) trpcRequests.push(req.url());
  });

  await signUp(page);
  await page.goto("/status");
  await expect(page.getByRole("heading", { name: "System status" })).toBeVisible();

  // Server-rendered from the loader: a real PostgreSQL version and applied migrations.
  await expect(page.getByTestId("db-version")).toHaveText(/^\d+(\.\d+)?/);
  await expect(page.getByTestId("db-migrations")).not.toHaveText("0");

  // Fetched by the browser through the typed tRPC client: the in-process worker is alive.
  await expect(page.getByTestId("workers-alive")).toHaveText(/^[1-9]\d*$/);
  expect(trpcRequests.some((u) => u.includes("system.status"))).toBe(true);

  // A job enqueued from the page and finished by the worker.
  await page.getByTestId("probe-button").click();
  await expect(page.getByTestId("probe-result")).toHaveText(/Completed by a worker in \d+ ms/);

  await page.screenshot({ path: "test-results/screens/status-light.png", fullPage: true });
});

test("the shell: navigation, keyboard access and dark mode that survives a reload", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { level: 1 })).toContainText("coding agents");
  await expect(page.locator("html")).not.toHaveClass(/dark/);

  // Keyboard: the skip link comes first, then the logo and the nav.
  await page.keyboard.press("Tab");
  await expect(page.getByRole("link", { name: "Skip to content" })).toBeFocused();

  // The theme menu works from the keyboard: open it, pick Dark.
  await page.getByTestId("theme-toggle").focus();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("menuitemradio", { name: "System" })).toHaveAttribute("aria-checked", "true");
  await page.getByRole("menuitemradio", { name: "Dark" }).click();
  await expect(page.locator("html")).toHaveClass(/dark/);
  await expect(page.getByTestId("theme-toggle")).toHaveAccessibleName("Theme: Dark");
  await page.reload();
  await expect(page.locator("html")).toHaveClass(/dark/);
  await page.screenshot({ path: "test-results/screens/home-dark.png", fullPage: true });

  await signUp(page);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "System status" }).click();
  await expect(page).toHaveURL(/\/status$/);
  await expect(page.getByTestId("db-version")).toBeVisible();
  await page.screenshot({ path: "test-results/screens/status-dark.png", fullPage: true });

  // Back to the OS setting (light in headless Chromium).
  await page.getByTestId("theme-toggle").click();
  await page.getByRole("menuitemradio", { name: "System" }).click();
  await expect(page.locator("html")).not.toHaveClass(/dark/);
});

test("unknown pages get a friendly 404 inside the shell", async ({ page }) => {
  const response = await page.goto("/no-such-page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Back home" })).toBeVisible();
});
