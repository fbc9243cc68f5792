import type { Page } from "@playwright/test";
import { expect } from "./fixtures.ts";

let counter = 0;

/** A unique account for one test: specs share one database. */
export function newAccount(label = "user") {
  counter += 1;
  return {
    name: `E2E ${label}`,
    email: `${label}-${Date.now().toString(36)}-${counter}@example.com`,
    password: "correct horse battery staple",
  };
}

/** Sign up through the real page, as a user would, and land on `to` (default home). */
export async function signUp(page: Page, account = newAccount(), to = "/") {
  await page.goto(`/signup${to !== "/" ? `?redirectTo=${encodeURIComponent(to)}` : ""}`);
  await page.getByLabel("Name").fill(account.name);
  await page.getByLabel("Email").fill(account.email);
  await page.getByLabel("Password").fill(account.password);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByTestId("user-menu")).toBeVisible();
  return account;
}
