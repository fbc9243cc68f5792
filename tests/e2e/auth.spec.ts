import { request as apiRequest } from "@playwright/test";
import { newAccount, signUp } from "./auth-helpers.ts";
import { expect, test } from "./fixtures.ts";

const shot = (name: string) => ({ path: `test-results/screens/${name}.png`, fullPage: true });

test("sign up, sign out, sign in, create an API key, use it, revoke it", async ({ page, baseURL }) => {
  const account = newAccount("keys");

  // Client-side validation uses the same schema as the server: nothing is sent while it fails.
  await page.goto("/signup");
  await page.getByLabel("Name").fill(account.name);
  await page.getByLabel("Email").fill(account.email);
  await page.getByLabel("Password").fill("short");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByText("Password must be at least 10 characters")).toBeVisible();
  await expect(page.getByLabel("Password")).toHaveAttribute("aria-invalid", "true");
  await page.screenshot(shot("signup-invalid"));

  await page.getByLabel("Password").fill(account.password);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByTestId("user-menu")).toContainText(account.name);

  // Sign out from the account menu.
  await page.getByTestId("user-menu").click();
  await page.getByRole("menuitem", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByTestId("user-menu")).toHaveCount(0);

  // A wrong password says so without saying whether the account exists.
  await page.getByLabel("Email").fill(account.email);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("Invalid email or password");
  await page.screenshot(shot("login-error"));

  // A protected page sends us to sign in and back.
  await page.goto("/settings/api-keys");
  await expect(page).toHaveURL(/\/login\?redirectTo=%2Fsettings%2Fapi-keys$/);
  await page.getByLabel("Email").fill(account.email);
  await page.getByLabel("Password").fill(account.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/settings\/api-keys$/);
  await expect(page.getByText("No API keys yet")).toBeVisible();

  // Create a key: shown once.
  await page.getByLabel("Name").fill("e2e script");
  await page.getByRole("checkbox", { name: /projects:read/ }).check();
  await page.getByRole("button", { name: "Create key" }).click();
  const key = (await page.getByTestId("new-api-key").textContent())!.trim();
  expect(key).toMatch(/^agt_/);
  await expect(page.getByRole("table", { name: "API keys" })).toContainText("e2e script");
  await page.screenshot(shot("api-keys"));

  // Use it from outside the browser (no cookies).
  const api = await apiRequest.newContext({ baseURL });
  const me = await api.get("/api/v1/me", { headers: { authorization: `Bearer ${key}` } });
  expect(me.status()).toBe(200);
  expect(await me.json()).toMatchObject({
    user: { email: account.email },
    credential: { kind: "api_key", scopes: ["projects:read"] },
  });

  // Revoke it in the UI: the API refuses it at once.
  await page.getByRole("button", { name: "Revoke e2e script" }).click();
  await expect(page.getByText("No API keys yet")).toBeVisible();
  const after = await api.get("/api/v1/me", { headers: { authorization: `Bearer ${key}` } });
  expect(after.status()).toBe(401);
  expect(await after.json()).toMatchObject({ error: { code: "UNAUTHORIZED" } });
  await api.dispose();

  // The audit log tells the story.
  await page.goto("/settings/audit");
  const events = page.getByRole("list", { name: "Audit events" });
  for (const text of [
    "Account created",
    "Failed sign-in attempt",
    "Signed in",
    "API key created",
    "API key revoked",
  ]) {
    await expect(events).toContainText(text);
  }
  await page.screenshot(shot("audit-log"));
});

test("sessions: two browsers, one signs the other out", async ({ page, browser }) => {
  const account = await signUp(page, newAccount("sessions"));

  const other = await browser.newContext();
  const otherPage = await other.newPage();
  await otherPage.goto("/login");
  await otherPage.getByLabel("Email").fill(account.email);
  await otherPage.getByLabel("Password").fill(account.password);
  await otherPage.getByRole("button", { name: "Sign in" }).click();
  await expect(otherPage.getByTestId("user-menu")).toBeVisible();

  await page.goto("/settings/sessions");
  const sessions = page.getByRole("list", { name: "Active sessions" }).getByRole("listitem");
  await expect(sessions).toHaveCount(2);
  await expect(page.getByText("This session")).toHaveCount(1);
  await page.screenshot(shot("sessions"));

  // Sign out the other one (not "this session").
  await sessions
    .filter({ hasNotText: "This session" })
    .getByRole("button", { name: /^Sign out/ })
    .click();
  await expect(sessions).toHaveCount(1);

  await otherPage.goto("/settings");
  await expect(otherPage).toHaveURL(/\/login\?redirectTo=%2Fsettings$/);
  await other.close();
});

test("GitHub: consent creates an account; cancelling says so", async ({ page, baseURL }) => {
  const githubUrl = new URL(baseURL!);
  githubUrl.port = String(Number(githubUrl.port) + 1);
  const login = `octo${Date.now().toString(36)}`;
  const api = await apiRequest.newContext({ baseURL: githubUrl.origin });
  await api.post("/_fake/users", { data: { login, name: "Octo Cat", emails: [`${login}@example.com`] } });
  await api.post("/_fake/login-as", { data: { login } });
  await api.post("/_fake/mode", { data: { mode: "consent" } });

  // Cancel first.
  await page.goto("/login");
  await page.getByRole("button", { name: "Continue with GitHub" }).click();
  await page.getByRole("button", { name: "Cancel" }).click();
  await expect(page).toHaveURL(/\/login\?error=/);
  await expect(page.getByRole("alert")).toHaveText("GitHub sign-in was cancelled");

  // Then authorize.
  await page.getByRole("button", { name: "Continue with GitHub" }).click();
  await page.getByRole("button", { name: "Authorize" }).click();
  await expect(page.getByTestId("user-menu")).toContainText("Octo Cat");
  await page.goto("/settings");
  await expect(page.getByTestId("account-email")).toHaveText(`${login}@example.com`);
  await api.dispose();
});

test("signed-out pages in dark mode", async ({ page }) => {
  await page.goto("/login");
  await page.getByTestId("theme-toggle").click();
  await page.getByRole("menuitemradio", { name: "Dark" }).click();
  await page.screenshot(shot("login-dark"));
  await page.goto("/signup");
  await page.screenshot(shot("signup-dark"));
});
