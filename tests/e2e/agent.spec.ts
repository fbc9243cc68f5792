/**
 * The coding agent end to end: a project with a failing test, the one-click "Fix failing tests" agent task
 * on a scripted model (the mock provider at the network edge, native tool calls: read, edit, run the
 * tests, finish), the tool calls and the test output streaming into the run page, the diff reviewed hunk
 * by hunk and applied, and the project's file holding the fix.
 */
import type { Page } from "@playwright/test";
import { newAccount, signUp } from "./auth-helpers.ts";
import { expect, test } from "./fixtures.ts";

const SHOTS = "test-results/screenshots";
/** The e2e mock provider (tests/e2e/serve.ts): two ports above the app's. */
const MOCK_URL = `http://127.0.0.1:${Number(process.env.E2E_PORT ?? 3105) + 2}`;
/** Listed in tests/e2e/models.json, with native tool calling; reached through the user's `mock` credential. */
const MODEL = "compat:mock/script:fix-sum";

const FILES: Record<string, string> = {
  "package.json": `${JSON.stringify(
    { name: "sum", version: "1.0.0", type: "module", scripts: { test: "node --test" } },
    null,
    2,
  )}\n`,
  "src/sum.js": "export function sum(a, b) {\n  return a - b;\n}\n",
  "test/sum.test.js": [
    'import assert from "node:assert/strict";',
    'import { test } from "node:test";',
    'import { sum } from "../src/sum.js";',
    "",
    'test("sum adds two numbers", () => {',
    "  assert.equal(sum(2, 3), 5);",
    "});",
    "",
  ].join("\n"),
};

/** What the scripted model does, one step per model turn: a real agent's moves, not an answer built in. */
const SCRIPT = [
  { toolCalls: [{ name: "read_file", arguments: { path: "src/sum.js" } }], chunkDelayMs: 150 },
  {
    text: "sum subtracts instead of adding. ",
    toolCalls: [
      {
        name: "edit_file",
        arguments: { path: "src/sum.js", old_text: "return a - b;", new_text: "return a + b;" },
      },
    ],
    chunkDelayMs: 150,
  },
  { toolCalls: [{ name: "run_command", arguments: { command: "npm test" } }], chunkDelayMs: 150 },
  {
    toolCalls: [
      {
        name: "finish",
        arguments: { summary: "sum() subtracted its arguments; it now returns a + b and the test passes." },
      },
    ],
  },
];

async function projectWithFailingTest(page: Page) {
  const created = await page.request.post("/api/v1/projects", { data: { name: "Sum" } });
  expect(created.status(), await created.text()).toBe(201);
  const { id } = (await created.json()) as { id: string };
  for (const [path, content] of Object.entries(FILES)) {
    const saved = await page.request.put(`/api/v1/projects/${id}/files`, { data: { path, content } });
    expect(saved.ok(), await saved.text()).toBe(true);
  }
  return id;
}

async function dark(page: Page, on: boolean) {
  await page.emulateMedia({ colorScheme: on ? "dark" : "light" });
  if (on) await expect(page.locator("html")).toHaveClass(/dark/);
  else await expect(page.locator("html")).not.toHaveClass(/dark/);
  await page.waitForTimeout(300);
}

/** A new user with the failing project and the scripted provider; the agent task started from the project page. */
async function startFixTask(page: Page, label: string) {
  await signUp(page, newAccount(label));
  const projectId = await projectWithFailingTest(page);
  const credential = await page.request.post("/api/v1/providers/credentials", {
    data: { provider: "compat", name: "mock", baseUrl: `${MOCK_URL}/v1` },
  });
  expect(credential.status(), await credential.text()).toBe(201);
  const scripted = await page.request.post(`${MOCK_URL}/_mock/scripts`, {
    data: { id: "fix-sum", steps: SCRIPT },
  });
  expect(scripted.ok(), await scripted.text()).toBe(true);

  await page.goto(`/projects/${projectId}`);
  await page.getByRole("button", { name: "Agent task" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole("radio", { name: /Fix failing tests/ })).toBeChecked();
  await dialog.getByLabel("Model").selectOption(MODEL);
  await expect(dialog.getByLabel("Test command")).toHaveValue("npm test");
  return { projectId, dialog };
}

test("agent task: fix failing tests on the mock, watch it work, review and apply the diff", async ({
  page,
}) => {
  test.setTimeout(90_000);
  // One click on the project page; the provider is a compat endpoint "mock" at the mock server, scripted.
  const { projectId, dialog } = await startFixTask(page, "agent");
  await page.screenshot({ path: `${SHOTS}/agent-task-dialog-light.png` });
  await dialog.getByRole("button", { name: /Start/ }).click();
  await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);

  // The failing test output streams in, then the agent's tool calls, then the passing run.
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Fix failing tests");
  await expect(page.getByTestId("run-output-stream").or(page.getByTestId("run-output"))).toBeVisible();
  await page.getByRole("tab", { name: /Logs/ }).click();
  const logs = page.getByTestId("run-logs");
  await expect(logs).toContainText("read_file", { timeout: 30_000 });
  await expect(logs).toContainText("edit_file");
  await expect(logs).toContainText("run_command");
  await expect(page.getByTestId("run-status")).toHaveText("succeeded", { timeout: 60_000 });
  await expect(logs).toContainText("finish");

  await page.getByRole("tab", { name: /Steps/ }).click();
  const steps = page.getByTestId("step-row");
  await expect(steps).toHaveCount(3);
  // The agent's tool calls, in words, each done.
  await steps.filter({ hasText: "Fix the failures" }).getByRole("button").first().click();
  const activity = page.getByTestId("agent-activity");
  await expect(activity.getByRole("listitem")).toHaveText([
    /Read src\/sum\.js/,
    /Edited src\/sum\.js/,
    /Ran npm test/,
    /Finished/,
  ]);
  await expect(activity.locator('[data-state="done"]')).toHaveCount(4);
  await page.screenshot({ path: `${SHOTS}/run-agent-steps-light.png`, fullPage: true });
  const rerun = steps.filter({ hasText: "Run the tests again" });
  await rerun.getByRole("button").first().click();
  await expect(rerun.getByText("# pass 1").first()).toBeVisible();

  // Review: one file, one hunk; accept it and apply.
  await page.getByTestId("changes-tab").click();
  const file = page.getByTestId("changeset-file");
  await expect(file).toHaveCount(1);
  await expect(file).toHaveAttribute("data-path", "src/sum.js");
  await expect(file).toContainText("return a - b;");
  await expect(file).toContainText("return a + b;");
  await expect(page.getByTestId("changeset-status")).toHaveText("Waiting for review");
  await page.screenshot({ path: `${SHOTS}/run-changes-review-light.png`, fullPage: true });
  await dark(page, true);
  await page.screenshot({ path: `${SHOTS}/run-changes-review-dark.png`, fullPage: true });
  await dark(page, false);

  const accept = page.getByRole("button", { name: "Accept hunk 1 of src/sum.js" });
  await accept.click();
  await expect(accept).toHaveAttribute("aria-pressed", "true");
  // The decision is saved: it survives a reload.
  await page.reload();
  await page.getByTestId("changes-tab").click();
  await expect(page.getByRole("button", { name: "Accept hunk 1 of src/sum.js" })).toHaveAttribute(
    "aria-pressed",
    "true",
  );
  await page.getByRole("button", { name: "Apply 1 hunk" }).click();
  await expect(page.getByTestId("apply-result")).toContainText("src/sum.js (v2)");
  await expect(page.getByTestId("changeset-status")).toHaveText("Applied");
  await page.screenshot({ path: `${SHOTS}/run-changes-applied-light.png`, fullPage: true });

  // The project's file now holds the fix, written as an agent version of the file.
  const content = await page.request.get(
    `/api/v1/projects/${projectId}/files/content?path=${encodeURIComponent("src/sum.js")}`,
  );
  expect(content.ok(), await content.text()).toBe(true);
  expect(((await content.json()) as { content: string }).content).toBe(
    "export function sum(a, b) {\n  return a + b;\n}\n",
  );
});

test("review: a rejected hunk with a comment starts a follow-up run that quotes it", async ({ page }) => {
  test.setTimeout(90_000);
  const { dialog } = await startFixTask(page, "agent-follow-up");
  await dialog.getByRole("button", { name: /Start/ }).click();
  await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
  const firstRun = page.url();
  await expect(page.getByTestId("run-status")).toHaveText("succeeded", { timeout: 60_000 });

  await page.getByTestId("changes-tab").click();
  await page.getByRole("button", { name: "Reject hunk 1 of src/sum.js" }).click();
  const comment = page.getByLabel("Comment for a follow-up run (optional)");
  await comment.fill("Also handle strings: sum('2', 3) must be 5");
  await comment.blur();
  await expect(page.getByText("0 accepted, 1 rejected of 1 hunk")).toBeVisible();
  await page.getByRole("button", { name: "Reject all" }).click();
  await expect(page.getByTestId("changeset-status")).toHaveText("Rejected");
  // Nothing was applied.
  await expect(page.getByLabel("Comment for a follow-up run (optional)")).toHaveValue(
    "Also handle strings: sum('2', 3) must be 5",
  );

  // The follow-up: a new agent task run whose task quotes the hunk and the comment; scripted to do what it asks.
  const followUpScript = await page.request.post(`${MOCK_URL}/_mock/scripts`, {
    data: {
      id: "fix-sum",
      steps: [
        {
          toolCalls: [
            {
              name: "edit_file",
              arguments: { path: "src/sum.js", old_text: "a - b", new_text: "Number(a) + Number(b)" },
            },
          ],
        },
        {
          toolCalls: [{ name: "finish", arguments: { summary: "sum() converts its arguments, then adds." } }],
        },
      ],
    },
  });
  expect(followUpScript.ok(), await followUpScript.text()).toBe(true);
  await page.getByTestId("follow-up").click();
  await page.waitForURL((url) => url.pathname.startsWith("/runs/") && url.href !== firstRun);
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Agent task");
  await page.getByRole("tab", { name: /Steps/ }).click();
  await page.getByTestId("step-row").first().getByRole("button").first().click();
  await expect(
    page.getByText("Reviewer's comment: Also handle strings: sum('2', 3) must be 5").first(),
  ).toBeVisible({ timeout: 20_000 });
  // It ran the project's tests after the agent (the original run's test command): they pass now.
  await expect(page.getByTestId("run-status")).toHaveText("succeeded", { timeout: 30_000 });
  await page.getByTestId("changes-tab").click();
  await expect(page.getByTestId("changeset-file")).toContainText("return Number(a) + Number(b);");
});

test("first run without a provider: the offline demo model drives the agent loop and changes nothing", async ({
  page,
}) => {
  test.setTimeout(60_000);
  await signUp(page, newAccount("agent-demo"));
  const projectId = await projectWithFailingTest(page);
  await page.goto(`/projects/${projectId}`);
  await page.getByRole("button", { name: "Agent task" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByRole("radio", { name: /Describe a task/ }).check();
  await dialog.getByLabel("Task", { exact: true }).fill("Add a README that explains the project");
  await dialog.getByLabel("Test command").fill("");
  await expect(dialog.getByLabel("Model")).toHaveValue("compat:demo/demo");
  await dialog.getByRole("button", { name: /Start/ }).click();
  await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
  await expect(page.getByTestId("run-status")).toHaveText("succeeded", { timeout: 30_000 });
  await expect(page.getByTestId("run-output")).toContainText("Offline demo model — not an AI.");
  await page.getByTestId("changes-tab").click();
  await expect(page.getByTestId("changes-empty")).toHaveText("This run changed no files.");
});
