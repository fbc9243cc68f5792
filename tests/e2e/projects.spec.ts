import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Page } from "@playwright/test";
import { strToU8, zipSync } from "fflate";
import { newAccount, signUp } from "./auth-helpers.ts";
import { expect, test } from "./fixtures.ts";

/** A small repository as GitHub's "Download ZIP" makes it: one top folder, and a node_modules to skip. */
function demoZip(): Buffer {
  const bytes = zipSync({
    "demo-main/README.md": strToU8("# Demo\n\nA tiny project for the end-to-end test.\n"),
    "demo-main/package.json": strToU8('{\n  "name": "demo",\n  "version": "1.0.0"\n}\n'),
    "demo-main/src/app.ts": strToU8('export const greeting = "hello";\n'),
    "demo-main/src/lib/util.ts": strToU8("export const twice = (n: number) => n * 2;\n"),
    "demo-main/node_modules/left-pad/index.js": strToU8("module.exports = () => {};\n"),
  });
  return Buffer.from(bytes);
}

async function setTheme(page: Page, theme: "Light" | "Dark" | "System") {
  await page.getByTestId("theme-toggle").click();
  await page.getByRole("menuitemradio", { name: theme }).click();
  await expect(page.locator("html")).toHaveClass(theme === "Dark" ? /dark/ : /^(?!.*dark)/);
  // Let the 150 ms colour transitions finish, or screenshots catch buttons half-way between themes.
  await page.waitForTimeout(300);
}

/** Create a project through the dashboard's dialog; lands on its page. */
async function createProject(page: Page, name: string, description = "", screenshot?: string) {
  await page.goto("/projects");
  await page.getByRole("button", { name: "New project" }).first().click();
  const dialog = page.getByRole("dialog", { name: "New project" });
  await dialog.getByLabel("Name").fill(name);
  if (description) await dialog.getByLabel("Description (optional)").fill(description);
  if (screenshot) await page.screenshot({ path: screenshot });
  await dialog.getByRole("button", { name: "Create project" }).click();
  await expect(page).toHaveURL(/\/projects\/[0-9a-f-]{36}$/);
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
  return page.url().split("/").pop()!;
}

async function importDemo(page: Page) {
  await page.getByLabel("Upload a .zip").first().setInputFiles({
    name: "demo-main.zip",
    mimeType: "application/zip",
    buffer: demoZip(),
  });
  const result = page.getByTestId("import-result").first();
  await expect(result).toContainText("4 created");
  await expect(result).toContainText("node_modules/");
}

/** The text Monaco shows (its visible lines, concatenated; non-breaking spaces normalised). */
async function editorText(page: Page) {
  const text = (await page.locator(".monaco-editor .view-lines").first().textContent()) ?? "";
  return text.replace(/\u00a0/g, " ");
}

test("projects: create, import a zip, edit in Monaco, save, see history, restore", async ({ page }) => {
  test.setTimeout(90_000);
  // Monaco is a lazy chunk: the dashboard and an empty project never fetch it.
  const monacoRequests: string[] = [];
  page.on("request", (request) => {
    if (/\/assets\/code-editor/.test(request.url())) monacoRequests.push(request.url());
  });
  await signUp(page, newAccount("projects"), "/projects");
  await expect(page).toHaveURL(/\/projects$/);
  await expect(page.getByTestId("projects-empty")).toContainText("Bring your first project");
  await page.screenshot({ path: "test-results/screens/projects-empty-light.png", fullPage: true });

  const projectId = await createProject(
    page,
    "Demo shop",
    "The storefront service.",
    "test-results/screens/projects-create-dialog-light.png",
  );
  // A new project says what to do next: bring code in.
  await expect(page.getByRole("heading", { name: "Bring your code in" })).toBeVisible();
  await page.screenshot({ path: "test-results/screens/projects-new-light.png", fullPage: true });

  await importDemo(page);
  const tree = page.getByRole("tree", { name: "Project files" });
  await expect(tree.getByRole("treeitem", { name: "src" })).toBeVisible();
  await expect(tree.getByRole("treeitem", { name: "README.md" })).toBeVisible();
  await expect(page.getByText("4 files")).toBeVisible();
  await page.screenshot({ path: "test-results/screens/projects-imported-light.png", fullPage: true });
  expect(monacoRequests, "Monaco fetched before any editor was shown").toEqual([]);

  // Keyboard: focus the tree, open the `src` folder, go down to app.ts, open it with Enter.
  await tree.focus();
  await page.keyboard.press("Home");
  await expect(tree.getByRole("treeitem", { name: "src" })).toHaveAttribute("aria-expanded", "false");
  await page.keyboard.press("ArrowRight");
  await expect(tree.getByRole("treeitem", { name: "src" })).toHaveAttribute("aria-expanded", "true");
  await page.keyboard.press("ArrowDown"); // src/lib
  await page.keyboard.press("ArrowDown"); // src/app.ts
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("open-file")).toHaveText("src/app.ts");
  await expect(tree.getByRole("treeitem", { name: "app.ts" })).toHaveAttribute("aria-selected", "true");

  // Monaco, from the local bundle (the fixture fails the test on any request leaving localhost).
  await expect(page.locator(".monaco-editor").first()).toBeVisible();
  expect(monacoRequests.length).toBeGreaterThan(0);
  await expect.poll(() => editorText(page)).toContain('export const greeting = "hello";');

  // Edit: click into the text, go to the end, type.
  await page.locator(".monaco-editor .view-lines").first().click();
  await page.keyboard.press("ControlOrMeta+End");
  await page.keyboard.type("// edited in the browser");
  await expect(page.getByTestId("unsaved-marker")).toBeVisible();
  await expect(tree.getByRole("img", { name: "unsaved changes" })).toBeVisible();

  await page.keyboard.press("ControlOrMeta+s");
  await expect(page.getByTestId("workspace-notice")).toHaveText("Saved src/app.ts as version 2");
  await expect(page.getByTestId("unsaved-marker")).toHaveCount(0);

  // History: version 2 is current, version 1 the import.
  await page.getByRole("button", { name: "History" }).click();
  const history = page.getByTestId("history-panel");
  await expect(history.getByTestId("history-version")).toHaveCount(2);
  await expect(history.getByTestId("history-version").first()).toContainText("Version 2");
  await expect(history.getByTestId("history-version").first()).toContainText("current");
  await expect(history.getByTestId("history-version").nth(1)).toContainText("Imported");

  // What version 2 changed, in Monaco's diff editor.
  await history.getByRole("button", { name: "Show the changes of version 2" }).click();
  await expect(page.getByTestId("version-diff").locator(".monaco-diff-editor")).toBeVisible();
  await expect(page.getByTestId("version-diff")).toContainText("edited in the browser");
  await page.screenshot({ path: "test-results/screens/projects-diff-light.png", fullPage: true });
  await setTheme(page, "Dark");
  await page.screenshot({ path: "test-results/screens/projects-diff-dark.png", fullPage: true });
  await page.getByRole("button", { name: "Back to the editor" }).click();

  await page.screenshot({ path: "test-results/screens/projects-editor-dark.png", fullPage: true });
  await setTheme(page, "Light");
  await page.screenshot({ path: "test-results/screens/projects-editor-light.png", fullPage: true });

  // Restore version 1: a new version 3 with the imported content.
  await history.getByRole("button", { name: "Restore version 1" }).click();
  await expect(page.getByTestId("workspace-notice")).toHaveText(
    "Restored version 1 of src/app.ts as version 3",
  );
  await expect(history.getByTestId("history-version").first()).toContainText("Version 3");
  await expect(history.getByTestId("history-version").first()).toContainText("Restored");
  await expect.poll(() => editorText(page)).not.toContain("edited in the browser");
  expect(await editorText(page)).toContain('export const greeting = "hello";');

  // The REST API agrees.
  const content = await page.request.get(
    `/api/v1/projects/${projectId}/files/content?path=${encodeURIComponent("src/app.ts")}`,
  );
  expect(content.status()).toBe(200);
  expect(await content.json()).toMatchObject({ version: 3, content: 'export const greeting = "hello";\n' });

  // The dashboard lists it with its file count and this month's cost.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Projects" }).click();
  const row = page.getByTestId("project-row").filter({ hasText: "Demo shop" });
  await expect(row).toContainText("No runs yet");
  await expect(row).toContainText("$0.00");
  await expect(row).toContainText("4");
  await page.screenshot({ path: "test-results/screens/projects-dashboard-light.png", fullPage: true });
  await setTheme(page, "Dark");
  await page.screenshot({ path: "test-results/screens/projects-dashboard-dark.png", fullPage: true });
  await setTheme(page, "System");
});

test("a save based on a stale version shows the conflict and lets you keep yours", async ({ page }) => {
  test.setTimeout(90_000);
  await signUp(page, newAccount("conflict"), "/projects");
  const projectId = await createProject(page, "Conflicts");
  await importDemo(page);

  const tree = page.getByRole("tree", { name: "Project files" });
  await tree.getByRole("treeitem", { name: "README.md" }).click();
  await expect.poll(() => editorText(page)).toContain("# Demo");
  await page.locator(".monaco-editor .view-lines").first().click();
  await page.keyboard.press("ControlOrMeta+End");
  await page.keyboard.type("Mine.");

  // Meanwhile, someone else saves version 2 through the API.
  const theirs = await page.request.put(`/api/v1/projects/${projectId}/files`, {
    data: { path: "README.md", content: "# Demo\n\nTheirs.\n", baseVersion: 1 },
  });
  expect(theirs.status()).toBe(200);

  await page.getByRole("button", { name: "Save", exact: true }).click();
  const panel = page.getByTestId("conflict-panel");
  await expect(panel).toContainText("This file changed elsewhere");
  await expect(panel.locator(".monaco-diff-editor")).toBeVisible();
  await page.screenshot({ path: "test-results/screens/projects-conflict-light.png", fullPage: true });

  await panel.getByRole("button", { name: /Keep mine/ }).click();
  await expect(page.getByTestId("workspace-notice")).toHaveText("Saved README.md as version 3");
  await expect(panel).toHaveCount(0);
  const saved = await page.request.get(`/api/v1/projects/${projectId}/files/content?path=README.md`);
  expect((await saved.json()).content).toContain("Mine.");

  // Rename through the tree's keyboard shortcut (F2), then delete with Delete.
  await tree.getByRole("treeitem", { name: "package.json" }).click();
  await page.keyboard.press("F2");
  const rename = page.getByRole("dialog", { name: "Rename or move file" });
  await rename.getByLabel("New path").fill("config/package.json");
  await rename.getByRole("button", { name: "Move" }).click();
  await expect(tree.getByRole("treeitem", { name: "config" })).toBeVisible();
  await expect(tree.getByRole("treeitem", { name: "package.json" })).toBeVisible();
  // Focus went back to the tree when the dialog closed: the keyboard carries on from there.
  await expect(tree).toBeFocused();
  await page.keyboard.press("Delete");
  await page.getByRole("dialog", { name: "Delete file" }).getByRole("button", { name: "Delete" }).click();
  await expect(tree.getByRole("treeitem", { name: "package.json" })).toHaveCount(0);
});

test("edit details, archive, unarchive, and delete only after typing the name", async ({ page }) => {
  await signUp(page, newAccount("lifecycle"), "/projects");
  await createProject(page, "Throwaway");

  // Rename and describe from the project page.
  await page.getByRole("button", { name: "More project actions" }).click();
  await page.getByRole("menuitem", { name: "Edit details…" }).click();
  const edit = page.getByRole("dialog", { name: "Edit project details" });
  await edit.getByLabel("Name").fill("Scratchpad");
  await edit.getByLabel("Description").fill("Experiments.");
  await edit.getByRole("button", { name: "Save" }).click();
  await expect(edit).toHaveCount(0);
  await expect(page.getByRole("heading", { level: 1, name: "Scratchpad" })).toBeVisible();
  await expect(page.getByText("Experiments.")).toBeVisible();

  // Archive from the dashboard: hidden from the list until asked for.
  await page.goto("/projects");
  await page.getByRole("button", { name: "Actions for Scratchpad" }).click();
  await page.getByRole("menuitem", { name: "Archive" }).click();
  await expect(page.getByTestId("projects-empty")).toContainText("Archived projects are hidden");
  await page.getByRole("link", { name: "Show archived" }).click();
  const row = page.getByTestId("project-row").filter({ hasText: "Scratchpad" });
  await expect(row).toContainText("Archived");
  await page.getByRole("button", { name: "Actions for Scratchpad" }).click();
  await page.getByRole("menuitem", { name: "Unarchive" }).click();
  await expect(row).not.toContainText("Archived");

  // Delete: the button stays disabled until the exact name is typed.
  await page.getByRole("button", { name: "Actions for Scratchpad" }).click();
  await page.getByRole("menuitem", { name: "Delete…" }).click();
  const dialog = page.getByRole("dialog", { name: "Delete project" });
  const confirm = dialog.getByRole("button", { name: "Delete project" });
  await expect(confirm).toBeDisabled();
  await dialog.getByLabel("Type the project name to confirm").fill("Scratchpa");
  await expect(confirm).toBeDisabled();
  await dialog.getByLabel("Type the project name to confirm").fill("Scratchpad");
  await confirm.click();
  await expect(dialog).toHaveCount(0);
  await expect(page.getByTestId("project-row")).toHaveCount(0);
});

test("a folder picked from disk is zipped in the browser, without node_modules", async ({ page }) => {
  const dir = mkdtempSync(path.join(tmpdir(), "agentry-e2e-"));
  try {
    const put = (relative: string, text: string) => {
      mkdirSync(path.dirname(path.join(dir, relative)), { recursive: true });
      writeFileSync(path.join(dir, relative), text);
    };
    put("shop/src/index.ts", "export const ok = true;\n");
    put("shop/docs/guide.md", "# Guide\n");
    put("shop/node_modules/dep/index.js", "module.exports = 1;\n");

    await signUp(page, newAccount("folder"), "/projects");
    await createProject(page, "From a folder");
    await page.getByLabel("Choose a folder").first().setInputFiles(path.join(dir, "shop"));
    const result = page.getByTestId("import-result").first();
    await expect(result).toContainText("2 created");
    await expect(result).toContainText("node_modules/");
    const tree = page.getByRole("tree", { name: "Project files" });
    await expect(tree.getByRole("treeitem", { name: "src" })).toBeVisible();
    await expect(tree.getByRole("treeitem", { name: "docs" })).toBeVisible();
    await expect(tree.getByRole("treeitem", { name: "node_modules" })).toHaveCount(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a 2,000-file project: the import is quick and the tree renders only what is in view", async ({
  page,
}) => {
  test.setTimeout(90_000);
  const files: Record<string, Uint8Array> = {};
  for (let i = 0; i < 2000; i += 1) {
    files[`big-main/pkg/file-${String(i).padStart(4, "0")}.ts`] = strToU8(`export const n${i} = ${i};\n`);
  }
  files["big-main/README.md"] = strToU8("# Big\n");
  await signUp(page, newAccount("big"), "/projects");
  await createProject(page, "Big one");

  const started = Date.now();
  await page
    .getByLabel("Upload a .zip")
    .first()
    .setInputFiles({
      name: "big-main.zip",
      mimeType: "application/zip",
      buffer: Buffer.from(zipSync(files)),
    });
  await expect(page.getByTestId("import-result").first()).toContainText("2001 created", { timeout: 30_000 });
  const tree = page.getByRole("tree", { name: "Project files" });
  await expect(tree.getByRole("treeitem", { name: "pkg" })).toBeVisible();
  console.info(`2,001-file zip imported through the UI and shown in the tree in ${Date.now() - started} ms`);

  // Expanding a folder of 2,000 files renders a screenful of rows, not 2,000.
  await tree.getByRole("treeitem", { name: "pkg" }).click();
  await expect(tree.getByRole("treeitem", { name: "file-0000.ts" })).toBeVisible();
  expect(await tree.getByRole("treeitem").count()).toBeLessThan(100);
  await expect(tree.getByRole("treeitem", { name: "pkg" })).toHaveAttribute("aria-setsize", "2");

  // The keyboard reaches the end, scrolling the last row into view, and opens it.
  await page.keyboard.press("End");
  const last = tree.getByRole("treeitem", { name: "README.md" });
  await expect(last).toBeInViewport();
  await page.keyboard.press("ArrowUp");
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("open-file")).toHaveText("pkg/file-1999.ts");
  await expect.poll(() => editorText(page)).toContain("export const n1999 = 1999;");
  await page.screenshot({ path: "test-results/screens/projects-big-light.png", fullPage: true });
});
