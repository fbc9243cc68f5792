import { expect, test } from "./fixtures.ts";

const SHOTS = process.env.E2E_SHOTS_DIR ?? "test-results/screenshots";

test.describe("API reference (/docs/api)", () => {
  test("is public and renders every operation, grouped by tag, with anchors", async ({
    page,
    externalRequests,
  }) => {
    await page.goto("/docs/api");
    await expect(page.getByRole("heading", { level: 1, name: "API reference" })).toBeVisible();
    // Public page: no sign-in redirect.
    expect(new URL(page.url()).pathname).toBe("/docs/api");

    for (const section of ["Authentication", "Errors", "Pagination"]) {
      await expect(page.getByRole("heading", { level: 2, name: section })).toBeVisible();
    }
    await expect(page.getByTestId("openapi-link")).toHaveAttribute("href", "/api/openapi.json");
    expect(await page.getByTestId("api-operation").count()).toBeGreaterThan(50);

    const runsList = page.locator("article#runs-list");
    await expect(runsList).toContainText("/api/v1/runs");
    await expect(runsList).toContainText("nextCursor");
    await expect(runsList).toContainText("runs:read");
    await expect(page.locator("article#projects-create")).toContainText("Response 201");
    await expect(page.locator("article#audit-list")).toContainText("Session only");
    await expect(page.locator("article#auth-login")).toContainText("Public");

    // The sticky table of contents jumps to an operation's anchor.
    const toc = page.getByRole("navigation", { name: "API reference contents" });
    await toc.locator('a[href="#workflows-create"]').click();
    await expect(page).toHaveURL(/#workflows-create$/);
    await expect(page.locator("article#workflows-create")).toBeInViewport();
    await expect(toc).toBeInViewport();

    // A deep link works on first load.
    await page.goto("about:blank");
    await page.goto("/docs/api#runs-cancel");
    await expect(page.locator("article#runs-cancel")).toBeInViewport();

    // The document it links to is served.
    const doc = await page.request.get("/api/openapi.json");
    expect(doc.status()).toBe(200);
    expect(((await doc.json()) as { openapi: string }).openapi).toMatch(/^3\.1/);

    await page.goto("/docs/api");
    await page.screenshot({ path: `${SHOTS}/api-docs-light.png` });
    await page.locator("article#runs-list").scrollIntoViewIfNeeded();
    await page.locator("article#runs-list").screenshot({ path: `${SHOTS}/api-docs-operation-light.png` });
    await page.emulateMedia({ colorScheme: "dark" });
    await page.goto("about:blank");
    await page.goto("/docs/api#errors");
    await expect(page.locator("section#errors")).toBeInViewport();
    await expect(page.locator("html")).toHaveClass(/dark/);
    await page.screenshot({ path: `${SHOTS}/api-docs-dark.png` });
    await page
      .locator("article#projects-create")
      .screenshot({ path: `${SHOTS}/api-docs-operation-dark.png` });
    expect(externalRequests).toEqual([]);
  });
});
