import type { Locator, Page } from "@playwright/test";
import { newAccount, signUp } from "./auth-helpers.ts";
import { expect, test } from "./fixtures.ts";

const SHOTS = "test-results/screenshots";
/** The slow scripted model (tests/e2e/models.json): 64 chunks "tok0 " … "tok63 ", 20 ms apart. */
const SLOW = "compat:demo/slow";

type Step = Record<string, unknown> & { id: string; type: string };

/** A project and a workflow in it, through the REST API with the page's cookies (the builder is elsewhere). */
async function workflowWith(page: Page, name: string, steps: Step[]) {
  const project = await page.request.post("/api/v1/projects", { data: { name: `${name} project` } });
  expect(project.status(), await project.text()).toBe(201);
  const { id: projectId } = (await project.json()) as { id: string };
  const workflow = await page.request.post(`/api/v1/projects/${projectId}/workflows`, {
    data: { name, definition: { inputs: { topic: { type: "string", default: "runs" } }, steps } },
  });
  expect(workflow.status(), await workflow.text()).toBe(201);
  const { id: workflowId } = (await workflow.json()) as { id: string };
  return { projectId, workflowId };
}

async function startRun(page: Page, workflowId: string, input: Record<string, unknown> = {}) {
  const started = await page.request.post(`/api/v1/workflows/${workflowId}/runs`, { data: { input } });
  expect(started.status(), await started.text()).toBe(202);
  return ((await started.json()) as { runId: string }).runId;
}

const slowSteps = (count: number): Step[] => [
  { id: "prep", type: "transform", template: "Write about {{inputs.topic}}" },
  ...Array.from({ length: count }, (_, i) => ({
    id: `ask_${i + 1}`,
    type: "llm",
    model: SLOW,
    prompt: i === 0 ? "{{steps.prep.output}}" : `Part ${i + 1} of {{inputs.topic}}`,
  })),
];

/** "tok0 tok1 … tok{n-1} ": what the slow model says, in order. */
const TOKENS = Array.from({ length: 64 }, (_, i) => `tok${i} `).join("");

/** The streamed text is always a prefix of the model's answer: nothing repeated, nothing skipped. */
async function expectCleanPrefix(stream: Locator) {
  const text = ((await stream.textContent()) ?? "").trim();
  expect(text.length).toBeGreaterThan(0);
  expect(TOKENS.startsWith(text), `streamed text is a clean prefix: "${text.slice(0, 120)}"`).toBe(true);
}

async function dark(page: Page, on: boolean) {
  await page.emulateMedia({ colorScheme: on ? "dark" : "light" });
  if (on) await expect(page.locator("html")).toHaveClass(/dark/);
  else await expect(page.locator("html")).not.toHaveClass(/dark/);
  await page.waitForTimeout(300);
}

test("run page: tokens stream live, a reload resumes without duplicates, steps and usage fill in", async ({
  page,
}) => {
  test.setTimeout(60_000);
  await signUp(page, newAccount("runs"));
  const { projectId, workflowId } = await workflowWith(page, "Slow story", slowSteps(4));
  const runId = await startRun(page, workflowId, { topic: "rivers" });

  await page.goto(`/runs/${runId}`);
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Slow story");
  await expect(page.getByRole("heading", { level: 1 })).toContainText("v1");
  await expect(page.getByTestId("workflow-link")).toHaveAttribute(
    "href",
    `/projects/${projectId}/workflows/${workflowId}`,
  );

  // Tokens arrive while the run is still running.
  const stream = page.getByTestId("run-output-stream");
  await expect(stream).toContainText("tok3", { timeout: 15_000 });
  await expect(page.getByTestId("run-status")).toHaveText("running");
  await expect(page.getByTestId("connection")).toHaveText("Live");
  await expectCleanPrefix(stream);
  await expect(page.getByTestId("run-elapsed")).not.toHaveText("—");
  await page.screenshot({ path: `${SHOTS}/run-streaming-light.png` });

  // A reload in the middle: the page replays what was stored and keeps following, text not doubled.
  await page.reload();
  await expect(stream).toContainText("tok", { timeout: 10_000 });
  await expect(page.getByTestId("connection")).toHaveText("Live");
  for (let i = 0; i < 4; i += 1) {
    if ((await page.getByTestId("run-status").textContent()) !== "running") break;
    await expectCleanPrefix(stream).catch(async (error) => {
      // Between two steps the stream box may be gone for a moment; only a present box must be clean.
      if (await stream.isVisible()) throw error;
    });
    await page.waitForTimeout(250);
  }
  await dark(page, true);
  await page.screenshot({ path: `${SHOTS}/run-streaming-dark.png` });
  await dark(page, false);

  // The end: status, final output (the last step's answer), progress, connection closed.
  await expect(page.getByTestId("run-status")).toHaveText("succeeded", { timeout: 20_000 });
  await expect(page.getByTestId("run-output")).toContainText("tok63");
  await expect(page.getByTestId("run-progress")).toHaveText("5/5");
  await expect(page.getByTestId("connection")).toHaveText("Complete");
  expect(((await page.getByTestId("run-output").textContent()) ?? "").trim()).toBe(TOKENS.trim());
  await expect(page.getByTestId("run-tokens")).not.toHaveText(/^0/);
  await page.screenshot({ path: `${SHOTS}/run-succeeded-light.png`, fullPage: true });

  // Steps: each with its status; a model step opens onto its rendered prompt and output.
  await page.getByRole("tab", { name: /Steps/ }).click();
  const rows = page.getByTestId("step-row");
  await expect(rows).toHaveCount(5);
  for (const row of await rows.all()) await expect(row).toHaveAttribute("data-status", "succeeded");
  await rows.nth(1).getByRole("button").click();
  await expect(rows.nth(1)).toContainText("Write about rivers");
  await expect(rows.nth(1)).toContainText("tok63");
  await expect(rows.nth(1)).toContainText(SLOW);
  await page.screenshot({ path: `${SHOTS}/run-steps-light.png`, fullPage: true });

  // Usage: a row per step and the total.
  await page.getByRole("tab", { name: "Usage" }).click();
  const usage = page.getByTestId("run-usage");
  await expect(usage.locator("tbody tr")).toHaveCount(5);
  await expect(page.getByTestId("usage-total-out")).not.toHaveText("0");
  await expect(page.getByTestId("usage-total-cost")).toHaveText("$0.00");

  // Logs: the timeline of the run.
  await page.getByRole("tab", { name: /Logs/ }).click();
  const logs = page.getByTestId("run-logs");
  await expect(logs).toContainText("Run started");
  await expect(logs).toContainText("Step ask_4 succeeded");
  await expect(logs).toContainText("Run succeeded");
  await dark(page, true);
  await page.screenshot({ path: `${SHOTS}/run-logs-dark.png`, fullPage: true });
  await dark(page, false);

  // Re-run: a new run of the same version, opened at once.
  await page.getByRole("button", { name: "Re-run" }).click();
  await expect(page).not.toHaveURL(new RegExp(runId));
  await expect(page).toHaveURL(/\/runs\/[0-9a-f-]{36}$/);
  await expect(page.getByRole("link", { name: "an earlier run" })).toHaveAttribute("href", `/runs/${runId}`);
  await expect(page.getByTestId("run-status")).toHaveText(/queued|running/);
  await page.getByRole("button", { name: "Cancel", exact: true }).click();
  await expect(page.getByTestId("run-status")).toHaveText("cancelled", { timeout: 10_000 });
});

test("cancel a slow run, retry it from its step, a failed run's error, and the run history", async ({
  page,
}) => {
  test.setTimeout(60_000);
  await signUp(page, newAccount("runs-cancel"));
  const { projectId, workflowId } = await workflowWith(page, "Long story", slowSteps(5));
  const runId = await startRun(page, workflowId);

  await page.goto(`/runs/${runId}`);
  await expect(page.getByTestId("run-output-stream")).toContainText("tok2", { timeout: 15_000 });
  await page.getByRole("button", { name: "Cancel", exact: true }).click();
  await expect(page.getByTestId("run-status")).toHaveText("cancelled", { timeout: 10_000 });
  await expect(page.getByTestId("connection")).toHaveText("Complete");
  await expect(page.getByTestId("run-output")).toContainText("cancelled");
  await expect(page.getByRole("button", { name: "Cancel", exact: true })).toHaveCount(0);
  await page.getByRole("tab", { name: /Steps/ }).click();
  // The engine notices a cancel within a second: the model step in flight then is cancelled (or none, when
  // the cancel landed between two steps), the ones before it succeeded, the rest never started.
  await expect
    .poll(() =>
      page
        .getByTestId("step-row")
        .evaluateAll((rows) => rows.map((row) => row.getAttribute("data-status")).join(" ")),
    )
    .toMatch(/^succeeded( succeeded)*( cancelled)?( pending)+$/);
  await page.screenshot({ path: `${SHOTS}/run-cancelled-light.png`, fullPage: true });

  // Retry from the failed step: the transform that succeeded is reused, the model steps run again.
  await page.getByRole("button", { name: "Retry from failed step" }).click();
  await expect(page).not.toHaveURL(new RegExp(runId));
  await page.getByRole("tab", { name: /Steps/ }).click();
  await expect(page.getByTestId("step-row").nth(0)).toContainText("reused");
  await expect(page.getByTestId("step-row").nth(0)).toHaveAttribute("data-status", "succeeded");
  await page.getByRole("button", { name: "Cancel", exact: true }).click();
  await expect(page.getByTestId("run-status")).toHaveText("cancelled", { timeout: 10_000 });

  // A run that fails: the transform's text is not JSON.
  const broken = await workflowWith(page, "Broken parse", [
    { id: "parse", type: "transform", template: "not json at all", output: "json" },
  ]);
  const failedId = await startRun(page, broken.workflowId);
  await page.goto(`/runs/${failedId}`);
  await expect(page.getByTestId("run-status")).toHaveText("failed", { timeout: 15_000 });
  const error = page.getByTestId("run-error");
  await expect(error).toContainText("The run failed at step parse");
  await expect(error).toContainText(/[A-Z_]{4,}/);
  await expect(page.getByRole("button", { name: "Retry from failed step" })).toBeVisible();
  await page.getByRole("tab", { name: /Steps/ }).click();
  await expect(page.getByTestId("step-row").first()).toHaveAttribute("data-status", "failed");
  await page.screenshot({ path: `${SHOTS}/run-failed-light.png`, fullPage: true });
  await dark(page, true);
  await page.screenshot({ path: `${SHOTS}/run-failed-dark.png`, fullPage: true });
  await dark(page, false);

  // The history: every run, newest first, from the main navigation.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Runs" }).click();
  await expect(page).toHaveURL(/\/runs$/);
  const rows = page.getByTestId("run-row");
  await expect(rows).toHaveCount(3);
  await expect(rows.first()).toHaveAttribute("data-status", "failed");
  await expect(rows.first()).toContainText("Broken parse");
  await page.screenshot({ path: `${SHOTS}/runs-list-light.png`, fullPage: true });
  await dark(page, true);
  await page.screenshot({ path: `${SHOTS}/runs-list-dark.png`, fullPage: true });
  await dark(page, false);

  // Filter by status: kept in the URL.
  await page.getByLabel("Status", { exact: true }).selectOption("cancelled");
  await expect(page).toHaveURL(/[?&]status=cancelled/);
  await expect(rows).toHaveCount(2);
  for (const row of await rows.all()) await expect(row).toHaveAttribute("data-status", "cancelled");

  // By project, then workflow (the workflow list is the project's).
  await page.getByLabel("Project", { exact: true }).selectOption({ label: "Broken parse project" });
  await expect(page).toHaveURL(/[?&]projectId=/);
  await expect(page.getByTestId("runs-empty")).toContainText("No runs match these filters");
  await page.getByLabel("Status", { exact: true }).selectOption("");
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText("Broken parse");

  // Links from elsewhere: /runs?workflowId=… alone selects that workflow and its project.
  await page.goto(`/runs?workflowId=${workflowId}`);
  await expect(page.getByLabel("Project", { exact: true })).toHaveValue(projectId);
  await expect(page.getByLabel("Workflow", { exact: true })).toHaveValue(workflowId);
  await expect(rows).toHaveCount(2);
  await rows.last().getByRole("link", { name: "Long story", exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/runs/${runId}$`));
  await expect(page.getByTestId("run-status")).toHaveText("cancelled");

  // Someone else's run or no run: not found.
  const missing = await page.goto("/runs/0190a0a0-0000-7000-8000-000000000000");
  expect(missing?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Run not found" })).toBeVisible();
});

test("run history: empty state, and Load more pages through with the cursor", async ({ page }) => {
  test.setTimeout(60_000);
  await signUp(page, newAccount("runs-list"));
  await page.goto("/runs");
  await expect(page.getByTestId("runs-empty")).toContainText("No runs yet");
  await page.screenshot({ path: `${SHOTS}/runs-empty-light.png` });

  const { workflowId } = await workflowWith(page, "Quick", [
    { id: "hello", type: "transform", template: "Hello {{inputs.topic}}" },
  ]);
  const ids: string[] = [];
  for (let i = 0; i < 27; i += 1) ids.push(await startRun(page, workflowId, { topic: `n${i}` }));
  await page.goto("/runs");
  const rows = page.getByTestId("run-row");
  await expect(rows).toHaveCount(25);
  await page.getByRole("button", { name: "Load more" }).click();
  await expect(rows).toHaveCount(27);
  await expect(page.getByRole("button", { name: "Load more" })).toHaveCount(0);
  // Newest first, each once.
  const links = await rows
    .getByRole("link", { name: "Quick", exact: true })
    .evaluateAll((anchors) => anchors.map((a) => a.getAttribute("href")?.split("/").pop()));
  expect(links).toEqual([...ids].reverse());
});
