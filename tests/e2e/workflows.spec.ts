import type { Page } from "@playwright/test";
import { newAccount, signUp } from "./auth-helpers.ts";
import { expect, test } from "./fixtures.ts";

const SHOTS = "test-results/screenshots";

async function setTheme(page: Page, theme: "Light" | "Dark") {
  await page.getByTestId("theme-toggle").click();
  await page.getByRole("menuitemradio", { name: theme }).click();
  await expect(page.locator("html")).toHaveClass(theme === "Dark" ? /dark/ : /^(?!.*dark)/);
  // Let the colour transitions finish before a screenshot.
  await page.waitForTimeout(300);
}

/** The list entry of a step, by id. */
const stepItem = (page: Page, id: string) => page.locator(`[data-testid="step-item"][data-step-id="${id}"]`);

/** Add a step of a type from the "Add step" menu; it is inserted after the selected step and selected. */
async function addStep(page: Page, type: "Model call" | "Transform" | "Command" | "Agent") {
  await page.getByRole("button", { name: "Add step" }).click();
  await page.getByRole("menuitem", { name: new RegExp(`^${type}`) }).click();
}

async function stepOrder(page: Page): Promise<string[]> {
  return page
    .getByTestId("step-item")
    .evaluateAll((items) => items.map((item) => item.getAttribute("data-step-id") ?? ""));
}

test("workflows: build one from blank with completion, reorder, validate, save, JSON, versions, run", async ({
  page,
}) => {
  await signUp(page, newAccount("workflows"));
  const created = await page.request.post("/api/v1/projects", { data: { name: "Pipeline" } });
  expect(created.status()).toBe(201);
  const { id: projectId } = (await created.json()) as { id: string };
  const file = await page.request.put(`/api/v1/projects/${projectId}/files`, {
    data: { path: "docs/notes.md", content: "# Notes\n" },
  });
  expect(file.ok()).toBe(true);

  // From the project page to its (empty) workflow list.
  await page.goto(`/projects/${projectId}`);
  await page.getByRole("link", { name: "Workflows", exact: true }).click();
  await expect(page).toHaveURL(`/projects/${projectId}/workflows`);
  await expect(page.getByTestId("workflows-empty")).toBeVisible();
  await expect(
    page.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link", { name: "Pipeline" }),
  ).toBeVisible();

  // New workflow: the templates are offered as cards next to "Blank workflow".
  await page.getByRole("button", { name: "New workflow" }).first().click();
  const dialog = page.getByRole("dialog", { name: "New workflow" });
  await expect(dialog.getByTestId("template-card")).toHaveCount(4);
  await expect(dialog.getByText("Plan → implement → test → review")).toBeVisible();
  await expect(dialog.getByRole("radio", { name: /Blank workflow/ })).toBeChecked();
  await page.screenshot({ path: `${SHOTS}/workflows-new-dialog.png` });
  await dialog.getByRole("button", { name: "Create workflow" }).click();
  await expect(dialog.getByText("Enter a name")).toBeVisible();
  await dialog.getByLabel("Name").fill("Summarise a task");
  await dialog.getByRole("button", { name: "Create workflow" }).click();
  await expect(page).toHaveURL(new RegExp(`/projects/${projectId}/workflows/[0-9a-f-]{36}$`));
  const builderUrl = page.url();
  await expect(page.getByRole("heading", { level: 1, name: "Summarise a task" })).toBeVisible();
  await expect(page.getByTestId("workflow-version")).toHaveText("Version 1");
  await expect.poll(() => stepOrder(page)).toEqual(["answer"]);
  // The blank workflow's model step uses the offline demo model (no provider key here).
  await expect(stepItem(page, "answer")).toContainText("compat:demo/demo");

  // Step 1: a transform whose template is written with variable completion.
  await addStep(page, "Transform");
  await expect.poll(() => stepOrder(page)).toEqual(["answer", "format"]);
  const template = page.getByLabel("Template", { exact: true });
  await template.click();
  await template.pressSequentially("Task: {{inp");
  const list = page.getByRole("listbox", { name: "Variables" });
  await expect(list).toBeVisible();
  await expect(list.getByRole("option")).toHaveCount(1);
  await expect(template).toHaveAttribute("aria-activedescendant", /.+/);
  await page.keyboard.press("Enter");
  await expect(template).toHaveValue("Task: {{inputs.task}}");
  await expect(list).toBeHidden();
  // Escape closes the list; project files are offered too.
  await template.pressSequentially("\nFrom {{ proj");
  await expect(list.getByRole("option", { name: /project\.files\["docs\/notes\.md"\]/ })).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/workflow-completion.png` });
  await page.keyboard.press("Escape");
  await expect(list).toBeHidden();
  await template.fill("Task: {{inputs.task}}");
  await expect(template).toHaveValue("Task: {{inputs.task}}");

  // Step 2: a model call on the demo model reading the transform's output (chosen with the arrow keys).
  await addStep(page, "Model call");
  await expect.poll(() => stepOrder(page)).toEqual(["answer", "format", "ask"]);
  await expect(page.getByLabel("Model", { exact: true })).toHaveValue("compat:demo/demo");
  await expect(page.getByText("compat:demo/demo · free")).toBeVisible();
  // A new model step has no prompt yet: the error is shown on the field and in the summary.
  const prompt = page.getByLabel("Prompt", { exact: true });
  await expect(page.getByText("Write the prompt").first()).toBeVisible();
  await expect(prompt).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByTestId("workflow-problems")).toContainText("Step 3 (ask) · prompt");
  await expect(page.getByRole("button", { name: "Save", exact: true })).toBeDisabled();
  await prompt.click();
  await prompt.pressSequentially("Summarise this: {{steps.");
  await expect(list.getByRole("option").first()).toContainText("steps.answer.output");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Tab");
  await expect(prompt).toHaveValue("Summarise this: {{steps.format.output}}");
  await expect(prompt).not.toHaveAttribute("aria-invalid", "true");
  // The scripted slow model (tests/e2e/models.json): 64 words, 20 ms apart, so the stream can be watched.
  await page.getByLabel("Model", { exact: true }).selectOption("compat:demo/slow");
  await page.getByLabel("Temperature").fill("0");

  // Step 3: a transform combining the two previous outputs.
  await addStep(page, "Transform");
  await expect.poll(() => stepOrder(page)).toEqual(["answer", "format", "ask", "format_2"]);
  await page.getByLabel("Step id").fill("report");
  await page
    .getByLabel("Template", { exact: true })
    .fill("{{steps.ask.output}}\n---\n{{steps.format.output}}");
  await expect.poll(() => stepOrder(page)).toEqual(["answer", "format", "ask", "report"]);

  // Remove the blank workflow's own step (after a confirmation).
  await stepItem(page, "answer").locator("[data-step-button]").click();
  await page.getByRole("button", { name: "Remove step" }).click();
  const confirm = page.getByRole("dialog", { name: "Remove step" });
  await confirm.getByRole("button", { name: "Remove step" }).click();
  await expect.poll(() => stepOrder(page)).toEqual(["format", "ask", "report"]);
  await expect(page.getByTestId("workflow-problems")).toHaveCount(0);

  // Keyboard reorder: Alt+↑ moves "report" before "ask", which it reads: an inline error appears...
  const reportButton = stepItem(page, "report").locator("[data-step-button]");
  await reportButton.focus();
  await page.keyboard.press("Alt+ArrowUp");
  await expect.poll(() => stepOrder(page)).toEqual(["format", "report", "ask"]);
  await expect(reportButton).toBeFocused();
  const problems = page.getByTestId("workflow-problems");
  await expect(problems).toContainText("runs later");
  await expect(stepItem(page, "report")).toContainText("1 problem");
  await expect(page.getByTestId("save-reason")).toHaveText("Fix 1 problem to run");
  await expect(page.getByRole("button", { name: "Save and run" })).toBeDisabled();
  await reportButton.click();
  await expect(page.getByLabel("Template", { exact: true })).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByTestId("step-config")).toContainText('refers to step "ask", which runs later');
  await page.screenshot({ path: `${SHOTS}/workflow-builder-problem.png` });
  // ...and goes away when Alt+↓ puts it back.
  await reportButton.focus();
  await page.keyboard.press("Alt+ArrowDown");
  await expect.poll(() => stepOrder(page)).toEqual(["format", "ask", "report"]);
  await expect(problems).toHaveCount(0);
  await expect(page.getByLabel("Template", { exact: true })).not.toHaveAttribute("aria-invalid", "true");

  await expect(page.getByTestId("unsaved-indicator")).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/workflow-builder-light.png`, fullPage: true });
  await setTheme(page, "Dark");
  await page.screenshot({ path: `${SHOTS}/workflow-builder-dark.png`, fullPage: true });
  await setTheme(page, "Light");

  // Save: a new version.
  await page.getByLabel("Version note").fill("Three steps");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(page.getByText("Saved as version 2")).toBeVisible();
  await expect(page.getByTestId("workflow-version")).toHaveText("Version 2");
  await expect(page.getByTestId("unsaved-indicator")).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Save", exact: true })).toBeDisabled();

  // The JSON view shows the definition; broken JSON is refused with its position, valid JSON applies.
  await page.getByRole("tab", { name: "JSON" }).click();
  const json = page.getByTestId("workflow-json");
  const saved = await json.inputValue();
  expect(JSON.parse(saved)).toMatchObject({
    version: 1,
    steps: [{ id: "format" }, { id: "ask", model: "compat:demo/slow", temperature: 0 }, { id: "report" }],
  });
  await json.fill(`${saved.slice(0, -2)},}`);
  await expect(page.getByRole("alert").filter({ hasText: "Not applied" })).toContainText("Line");
  const edited = JSON.parse(saved) as { inputs: Record<string, Record<string, unknown>> };
  edited.inputs.task = { ...edited.inputs.task, label: "What to summarise" };
  await json.fill(JSON.stringify(edited, null, 2));
  await expect(page.getByRole("alert").filter({ hasText: "Not applied" })).toHaveCount(0);
  await expect(page.getByTestId("unsaved-indicator")).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/workflow-json.png`, fullPage: true });
  await page.getByRole("tab", { name: "Builder" }).click();
  await page.getByTestId("input-item").filter({ hasText: "task" }).getByRole("button").click();
  await expect(page.getByLabel("Label", { exact: true })).toHaveValue("What to summarise");

  // Versions: both are listed and compared.
  await page.getByRole("tab", { name: /Versions/ }).click();
  await expect(page.getByTestId("version-item")).toHaveCount(2);
  await expect(page.getByTestId("workflow-diff")).toContainText('"id": "report"');
  await expect(page.getByLabel("Summary of the changes")).toContainText("Added:");
  await page.screenshot({ path: `${SHOTS}/workflow-versions.png`, fullPage: true });

  // Leaving with unsaved changes asks first.
  await page.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link", { name: "Workflows" }).click();
  const leave = page.getByRole("dialog", { name: "Leave with unsaved changes?" });
  await expect(leave).toBeVisible();
  await leave.getByRole("button", { name: "Stay" }).click();
  await expect(page).toHaveURL(builderUrl);

  // Run: the form is generated from the inputs; the unsaved label change is saved first (version 3).
  await page.getByRole("button", { name: "Save and run" }).click();
  const run = page.getByRole("dialog", { name: "Run Summarise a task" });
  await expect(run).toContainText("saved as a new version first");
  const task = run.getByLabel(/What to summarise/);
  await expect(task).toHaveJSProperty("tagName", "TEXTAREA");
  await run.getByRole("button", { name: "Save and run" }).click();
  await expect(run.getByText('Input "task" is required')).toBeVisible();
  await expect(task).toHaveAttribute("aria-invalid", "true");
  await task.fill("Add a dark mode to the settings page");
  await expect(run.getByText('Input "task" is required')).toHaveCount(0);
  await page.screenshot({ path: `${SHOTS}/workflow-run-dialog.png` });
  await run.getByRole("button", { name: "Save and run" }).click();
  await expect(page).toHaveURL(/\/runs\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  const runId = page.url().split("/").at(-1) ?? "";

  // Watch it stream: the model's words arrive while the run is still running, then it succeeds with the
  // last step's output (the model's answer between the template's lines).
  await expect(page.getByTestId("run-output-stream")).toContainText("tok3", { timeout: 15_000 });
  await expect(page.getByTestId("run-status")).toHaveText("running");
  await expect(page.getByTestId("run-status")).toHaveText("succeeded", { timeout: 20_000 });
  await expect(page.getByTestId("run-progress")).toHaveText("3/3");
  await expect(page.getByTestId("run-output")).toContainText("tok63");

  // And find it in the history, filtered to this project.
  await page.goto(`/runs?projectId=${projectId}`);
  const historyRow = page.getByTestId("run-row").filter({ has: page.locator(`a[href="/runs/${runId}"]`) });
  await expect(historyRow).toHaveAttribute("data-status", "succeeded");
  await expect(historyRow).toContainText("Summarise a task");

  // The list shows the workflow with its latest version.
  await page.goto(`/projects/${projectId}/workflows`);
  const row = page.getByTestId("workflow-row");
  await expect(row).toHaveCount(1);
  await expect(row).toContainText("Summarise a task");
  await expect(row).toContainText("v3");
  await expect(row).toContainText("3 steps");
  await page.screenshot({ path: `${SHOTS}/workflows-list-light.png`, fullPage: true });
  await setTheme(page, "Dark");
  await page.screenshot({ path: `${SHOTS}/workflows-list-dark.png`, fullPage: true });
  await setTheme(page, "Light");
});

test("workflows: a template workflow opens in the builder; others' workflows are not found", async ({
  page,
  browser,
}) => {
  // A desktop-sized window: a drag cannot scroll the page to reach its target.
  await page.setViewportSize({ width: 1280, height: 1100 });
  await signUp(page, newAccount("wf-template"));
  const created = await page.request.post("/api/v1/projects", { data: { name: "Templates" } });
  const { id: projectId } = (await created.json()) as { id: string };
  await page.goto(`/projects/${projectId}/workflows`);
  await page.getByRole("button", { name: "New workflow" }).first().click();
  const dialog = page.getByRole("dialog", { name: "New workflow" });
  await dialog.getByText("Plan → implement → test → review").click();
  await dialog.getByRole("button", { name: "Create workflow" }).click();
  await expect(
    page.getByRole("heading", { level: 1, name: "Plan → implement → test → review" }),
  ).toBeVisible();
  await expect.poll(() => stepOrder(page)).toEqual(["plan", "implement", "test", "review"]);
  await stepItem(page, "review").locator("[data-step-button]").click();
  await expect(page.getByLabel("Output", { exact: true })).toHaveValue("json");
  await expect(page.getByLabel("JSON schema of the answer (optional)")).toHaveValue(/"verdict"/);
  await page.screenshot({ path: `${SHOTS}/workflow-template-builder.png`, fullPage: true });
  const builderPath = new URL(page.url()).pathname;

  // Drag and drop: "review" dropped on the top half of "plan" runs first, and reads steps that now run later.
  await stepItem(page, "review").dragTo(stepItem(page, "plan"), {
    sourcePosition: { x: 8, y: 20 },
    targetPosition: { x: 40, y: 4 },
  });
  await expect.poll(() => stepOrder(page)).toEqual(["review", "plan", "implement", "test"]);
  await expect(page.getByTestId("workflow-problems")).toContainText("runs later");
  await stepItem(page, "review").dragTo(stepItem(page, "test"), {
    sourcePosition: { x: 8, y: 20 },
    targetPosition: { x: 40, y: 40 },
  });
  await expect.poll(() => stepOrder(page)).toEqual(["plan", "implement", "test", "review"]);
  await expect(page.getByTestId("workflow-problems")).toHaveCount(0);

  // Save a change (version 2), then restore version 1 (as version 3).
  await page.getByLabel("Temperature").fill("0.5");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(page.getByText("Saved as version 2")).toBeVisible();
  await page.getByRole("tab", { name: /Versions/ }).click();
  await expect(page.getByTestId("workflow-diff")).toContainText('"temperature": 0.5');
  await page.getByRole("button", { name: "Restore version 1" }).click();
  await expect(page.getByText("Restored version 1 as version 3")).toBeVisible();
  await expect(page.getByTestId("version-item")).toHaveCount(3);
  await expect(page.getByTestId("version-item").first()).toContainText("Restored from version 1");
  await page.getByRole("tab", { name: "Builder" }).click();
  await expect(page.getByLabel("Temperature")).toHaveValue("0");

  // Another account sees a 404 for both pages.
  const other = await browser.newPage();
  await signUp(other, newAccount("wf-other"));
  const list = await other.goto(`/projects/${projectId}/workflows`);
  expect(list?.status()).toBe(404);
  await expect(other.getByRole("heading", { name: "Project not found" })).toBeVisible();
  const builder = await other.goto(builderPath);
  expect(builder?.status()).toBe(404);
  await expect(other.getByRole("heading", { name: "Workflow not found" })).toBeVisible();
  await other.close();
});
