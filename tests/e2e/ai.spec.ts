import type { Page } from "@playwright/test";
import { newAccount, signUp } from "./auth-helpers.ts";
import { expect, test } from "./fixtures.ts";

const SHOTS = "test-results/screenshots";
/** The e2e mock provider: E2E_LLM_PORT, else two above the app (as playwright.config.ts starts it). */
const llmPort = Number(process.env.E2E_LLM_PORT ?? Number(process.env.E2E_PORT ?? 3105) + 2);

/** A project with two files, created through the API the page itself uses (the UI is covered elsewhere). */
async function projectWithFiles(page: Page, name: string): Promise<string> {
  const created = await page.request.post("/api/v1/projects", { data: { name } });
  expect(created.status()).toBe(201);
  const { id } = (await created.json()) as { id: string };
  for (const [path, content] of [
    ["src/math.ts", "export function add(a: number, b: number) {\n  return a - b;\n}\n"],
    ["README.md", "# Calculator\n"],
  ]) {
    const saved = await page.request.put(`/api/v1/projects/${id}/files`, { data: { path, content } });
    expect(saved.ok(), await saved.text()).toBe(true);
  }
  return id;
}

test("quick task: the offline demo model streams an answer about the chosen files; stop cancels", async ({
  page,
}) => {
  await signUp(page, newAccount("quick"));
  const id = await projectWithFiles(page, "Quick task demo");
  await page.goto(`/projects/${id}?file=src/math.ts`);
  await page.getByRole("button", { name: "Quick task" }).click();
  const panel = page.getByRole("dialog", { name: "Quick task" });
  await expect(panel).toBeVisible();

  // With no provider key, the demo model is the default and is labelled as what it is.
  const model = panel.getByLabel("Model", { exact: true });
  await expect(model).toHaveValue("compat:demo/demo");
  await expect(panel.getByText("Offline demo (no key needed)", { exact: false }).or(model)).toBeVisible();
  // The open file is preselected.
  await expect(panel.getByRole("checkbox", { name: "src/math.ts" })).toBeChecked();
  await panel.getByRole("checkbox", { name: "README.md" }).check();
  await panel.getByLabel("What should the model do?").fill("Why does add() return the wrong result?");
  await panel.getByRole("button", { name: "Run" }).click();

  const answer = panel.getByTestId("quick-task-answer");
  await expect(answer).toContainText("src/math.ts");
  await expect(answer).toContainText("README.md");
  await expect(answer).toContainText("2 files");
  await expect(panel.getByText("Offline demo model — scripted, not an AI")).toBeVisible();
  const details = panel.getByLabel("Call details");
  await expect(details).toContainText("Cost");
  await expect(details).toContainText("$0.00");
  await page.screenshot({ path: `${SHOTS}/quick-task-demo-light.png` });
  // The theme follows the system by default; the panel is modal, so switch the system's scheme.
  await page.emulateMedia({ colorScheme: "dark" });
  await expect(page.locator("html")).toHaveClass(/dark/);
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${SHOTS}/quick-task-demo-dark.png` });
  await page.emulateMedia({ colorScheme: "light" });

  // A slow scripted model (64 chunks, 20 ms apart): stop it half-way.
  await model.selectOption("compat:demo/slow");
  await panel.getByRole("button", { name: "Run" }).click();
  await expect(answer).toContainText("tok2");
  await panel.getByRole("button", { name: "Stop" }).click();
  await expect(panel.getByRole("status").filter({ hasText: "Stopped" })).toBeVisible();
  const stoppedAt = await answer.textContent();
  expect(stoppedAt).not.toContain("tok63");
  await page.waitForTimeout(300);
  expect(await answer.textContent()).toBe(stoppedAt);

  // Both calls are on the books (the stopped one as cancelled), and the usage page shows them.
  const usage = await page.request.get(`/api/v1/usage?projectId=${id}`);
  expect(usage.status()).toBe(200);
  const body = (await usage.json()) as { totals: { calls: number; errors: number } };
  expect(body.totals).toMatchObject({ calls: 2, errors: 1 });
  await page.keyboard.press("Escape");
  await page.getByRole("link", { name: "Usage", exact: true }).click();
  const calls = page.getByTestId("recent-calls");
  await expect(calls).toContainText("demo/slow");
  await expect(calls).toContainText("demo/demo");
  await page.screenshot({ path: `${SHOTS}/usage-light.png`, fullPage: true });
});

test("providers: add an OpenAI key pointing at a server, test it, and run a priced quick task", async ({
  page,
}) => {
  await signUp(page, newAccount("providers"));
  const id = await projectWithFiles(page, "Priced");
  await page.goto("/settings/providers");
  await page.screenshot({ path: `${SHOTS}/providers-empty.png` });

  const form = page.locator("form").filter({ has: page.getByLabel("API key", { exact: true }) });
  await form.getByLabel("Provider").selectOption("openai");
  await form.getByLabel("API key", { exact: true }).fill("sk-e2e-test-key-1234");
  await form.getByRole("button", { name: "Advanced: use a custom base URL" }).click();
  await form.getByLabel("Base URL (optional)").fill(`http://127.0.0.1:${llmPort}/v1`);
  await form.getByRole("button", { name: "Test connection" }).click();
  await expect(page.getByText(/Connected — \d+ models/)).toBeVisible();
  await form.getByRole("button", { name: "Save" }).click();
  await expect(page.getByLabel("Provider credentials")).toContainText("…1234");
  // The key itself is never sent back to the browser.
  expect(await page.content()).not.toContain("sk-e2e-test-key-1234");
  await page.screenshot({ path: `${SHOTS}/providers-added.png` });

  await page.goto(`/projects/${id}?file=src/math.ts`);
  await page.getByRole("button", { name: "Quick task" }).click();
  const panel = page.getByRole("dialog", { name: "Quick task" });
  await panel.getByLabel("Model", { exact: true }).selectOption("openai:gpt-4.1-mini");
  await panel.getByLabel("What should the model do?").fill("Say hello");
  await panel.getByRole("button", { name: "Run" }).click();
  // The mock echoes the last user message; the cost comes from the catalog's price for gpt-4.1-mini.
  await expect(panel.getByTestId("quick-task-answer")).toContainText("Echo:");
  await expect(panel.getByLabel("Call details")).toContainText("$0.0");
});

test("prompts and budgets: version a prompt, cap spending, and run the saved prompt as a quick task", async ({
  page,
}) => {
  await signUp(page, newAccount("prompts"));
  const id = await projectWithFiles(page, "Shop");

  // A prompt with two variables; editing it makes version 2.
  await page.goto("/prompts");
  await page.getByRole("button", { name: "New prompt" }).first().click();
  const dialog = page.getByRole("dialog", { name: "New prompt" });
  await dialog.getByLabel("Name").fill("Review");
  await dialog.getByLabel("Template").fill("Review {{ project.name }}.");
  await dialog.getByRole("button", { name: "Create prompt" }).click();
  await expect(page).toHaveURL(/\/prompts\/[0-9a-f-]{36}$/);
  const editor = page.getByTestId("template-editor");
  await editor.fill("Review {{ project.name }} for {{ goal }}.");
  await expect(page.getByTestId("detected-variables")).toContainText("goal");
  await page.getByRole("button", { name: "Save version" }).click();
  const history = page.getByRole("list", { name: "Versions, newest first" });
  await expect(history).toContainText("Version 2");
  await expect(history).toContainText("Version 1");
  await page.screenshot({ path: `${SHOTS}/prompt-detail.png`, fullPage: true });

  // A monthly cap on all usage.
  await page.goto("/usage");
  await page.getByRole("button", { name: "Add budget" }).first().click();
  const budget = page.getByRole("dialog", { name: "Add a budget" });
  await budget.getByLabel("Applies to").selectOption("user");
  await budget.getByLabel("Amount (US dollars)").fill("5");
  await budget.getByRole("button", { name: "Add budget" }).click();
  await expect(page.getByRole("list", { name: "Budgets" })).toContainText("$5.00");

  // The saved prompt, with its value, as a quick task on the demo model.
  await page.goto(`/projects/${id}`);
  await page.getByRole("button", { name: "Quick task" }).click();
  const panel = page.getByRole("dialog", { name: "Quick task" });
  await panel.getByLabel(/Saved prompt/).selectOption({ label: "Review (v2)" });
  await panel.getByLabel("goal").fill("security issues");
  await panel.getByRole("button", { name: "Run" }).click();
  await expect(panel.getByLabel("Call details")).toBeVisible();

  // The call is linked to version 2 of the prompt.
  const prompts = (await (await page.request.get("/api/v1/prompts")).json()) as {
    items: Array<{ id: string }>;
  };
  const detail = (await (await page.request.get(`/api/v1/prompts/${prompts.items[0]!.id}`)).json()) as {
    versions: Array<{ number: number; usage: number }>;
  };
  expect(detail.versions.find((v) => v.number === 2)?.usage).toBe(1);
  expect(detail.versions.find((v) => v.number === 1)?.usage).toBe(0);
});
