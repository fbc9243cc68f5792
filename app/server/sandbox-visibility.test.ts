import type { AppLoadContext } from "@remix-run/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { detectSandbox, type SandboxStatus } from "#app/modules/sandbox/index.server.ts";
import { sandboxView } from "#app/modules/system/sandbox-view.server.ts";
import { systemRouter } from "#app/modules/system/system.router.server.ts";
import { loader as rootLoader } from "#app/root.tsx";
import { createCallerFactory } from "#app/trpc/init.server.ts";
import {
  sessionPrincipal,
  signupViaApi,
  startTestServer,
  type TestServer,
  testContext,
} from "#tests/setup/http-server.ts";

/** Anything that looks like a file path (`/usr/bin/bwrap`, `./x`, `C:\`). */
const PATH_LIKE = /(^|[\s("'`])\.{0,2}\/\w|[A-Z]:\\/;
const MISSING_BWRAP = "/nonexistent/agentry-test/bwrap";

const unsafe = () => detectSandbox({ bwrapPath: MISSING_BWRAP, allowUnsafe: true });
const unavailable = () => detectSandbox({ bwrapPath: MISSING_BWRAP });

describe("sandboxView", () => {
  it("keeps the mode and says why in a sentence without a path (the raw reason has one)", async () => {
    for (const [status, mode, words] of [
      [
        await unsafe(),
        "unsafe",
        /without a sandbox \(bubblewrap is not installed; AGENTRY_UNSAFE_NO_SANDBOX/,
      ],
      [await unavailable(), "unavailable", /command steps and agent steps are refused/],
    ] as const) {
      expect(status.reason).toContain(MISSING_BWRAP);
      const view = sandboxView(status);
      expect(view.mode).toBe(mode);
      expect(view.summary).toMatch(words);
      expect(JSON.stringify(view)).not.toMatch(PATH_LIKE);
      expect(JSON.stringify(view)).not.toContain("nonexistent");
    }
  });

  it("a probe's stderr and a configuration error never show", () => {
    const enforcement = { memory: "rlimit-as", processes: "none", cgroup: null } as const;
    const cases: SandboxStatus[] = [
      {
        mode: "unavailable",
        reason:
          "bubblewrap 0.8.0 cannot create a sandbox here: bwrap: setting up uid map: Permission denied /proc/self",
        bwrapVersion: "0.8.0",
        enforcement,
      },
      { mode: "unavailable", reason: "sandbox configuration: /opt/secret is not a directory", enforcement },
      { mode: "bwrap", bwrapVersion: "0.8.0; rm -rf /", enforcement },
    ];
    for (const status of cases) {
      const text = JSON.stringify(sandboxView(status));
      expect(text).not.toMatch(PATH_LIKE);
      expect(text).not.toMatch(/Permission|secret|rm -rf/);
    }
    expect(sandboxView(cases[2]!)).toMatchObject({ bwrapVersion: null, cgroupLimits: false });
  });

  it("this host's real sandbox: bwrap with its version", async () => {
    const view = sandboxView(await detectSandbox());
    expect(view.mode).toBe("bwrap");
    expect(view.bwrapVersion).toMatch(/^\d+\.\d+/);
    expect(JSON.stringify(view)).not.toMatch(PATH_LIKE);
  });
});

describe("the root loader and system.status expose the mode", () => {
  let server: TestServer;
  let user: Awaited<ReturnType<typeof signupViaApi>>;
  beforeAll(async () => {
    server = await startTestServer();
    user = await signupViaApi(server.base);
  });
  afterAll(() => server?.close());

  function loadContext(auth: AppLoadContext["auth"], sandbox: () => Promise<SandboxStatus | null>) {
    return { db: server.database.db, auth, sandbox } as unknown as AppLoadContext;
  }
  const load = (context: AppLoadContext) =>
    rootLoader({ context, request: new Request("http://localhost/"), params: {} });

  it("root loader: mode and summary for signed-in users only, no path", async () => {
    const auth = sessionPrincipal(user.userId, "s");
    const data = await load(loadContext(auth, unsafe));
    expect(data.user?.email).toBe(user.email);
    expect(data.sandbox).toEqual({ mode: "unsafe", summary: expect.stringContaining("without a sandbox") });
    expect(JSON.stringify(data)).not.toMatch(PATH_LIKE);
    expect((await load(loadContext(auth, unavailable))).sandbox?.mode).toBe("unavailable");
    expect((await load(loadContext(auth, async () => null))).sandbox).toBeNull();
    // A probe that fails is "unknown", not a broken page.
    expect((await load(loadContext(auth, () => Promise.reject(new Error("boom"))))).sandbox).toBeNull();
    expect(await load(loadContext(null, unsafe))).toEqual({ user: null, sandbox: null });
  });

  it("system.status: the sandbox view (null when the process does not know)", async () => {
    const ctx = testContext(server, sessionPrincipal(user.userId, "s"));
    const caller = createCallerFactory(systemRouter);
    const known = await caller({ ...ctx, sandbox: unavailable }).status();
    expect(known.sandbox).toMatchObject({ mode: "unavailable", bwrapVersion: null });
    expect(typeof known.sandbox?.cgroupLimits).toBe("boolean");
    expect(JSON.stringify(known.sandbox)).not.toMatch(PATH_LIKE);
    expect((await caller(ctx).status()).sandbox).toBeNull();
  });
});
