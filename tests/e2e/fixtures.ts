import { test as base, expect } from "@playwright/test";

/**
 * Every page must work without the internet: any request that leaves the
 * machine is aborted and recorded, and a test that made one fails.
 */
export const test = base.extend<{ externalRequests: string[] }>({
  externalRequests: [
    async ({ page }, use) => {
      const external: string[] = [];
      await page.route(
        (url) => !["127.0.0.1", "localhost", "[::1]"].includes(url.hostname) && url.protocol !== "data:",
        (route) => {
          external.push(route.request().url());
          return route.abort();
        },
      );
      const consoleErrors: string[] = [];
      page.on("console", (msg) => {
        // Chromium logs every 4xx answer (a 404 page, a form refused with 401/400): expected in negative paths.
        // A 5xx or any script error is not.
        // Monaco itself logs "AbstractContextKeyService has been disposed" when an editor is disposed while
        // one of its own deferred context-key updates is pending (seen when the conflict view replaces the
        // editor). It is Monaco's internal bookkeeping, with no effect on the page; anything else fails the test.
        const benign =
          /Failed to load resource: .*status of 4\d\d|AbstractContextKeyService has been disposed/;
        if (msg.type() === "error" && !benign.test(msg.text())) {
          consoleErrors.push(`${msg.text()} (on ${new URL(page.url()).pathname})`);
        }
      });
      page.on("pageerror", (error) => {
        // The same Monaco bookkeeping error sometimes escapes as an uncaught error from its debounced emitter
        // (microsoft/monaco-editor#4581, open upstream): tolerated by name only.
        if (error.message === "AbstractContextKeyService has been disposed") return;
        consoleErrors.push(`${error.message} (on ${new URL(page.url()).pathname})`);
      });
      await use(external);
      expect(external, "requests to outside the machine").toEqual([]);
      expect(consoleErrors, "browser console errors").toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
