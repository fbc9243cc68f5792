import { vitePlugin as remix } from "@remix-run/dev";
import tailwindcss from "@tailwindcss/vite";
import { defineConfig } from "vite";
import tsconfigPaths from "vite-tsconfig-paths";

declare module "@remix-run/node" {
  interface Future {
    v3_singleFetch: true;
  }
}

export default defineConfig({
  plugins: [
    tailwindcss(),
    remix({
      ignoredRouteFiles: ["**/*.test.{ts,tsx}", "**/.*"],
      future: {
        v3_fetcherPersist: true,
        v3_relativeSplatPath: true,
        v3_throwAbortReason: true,
        v3_singleFetch: true,
        v3_lazyRouteDiscovery: true,
      },
    }),
    tsconfigPaths(),
  ],
  // Pre-bundle client deps so dev mode does not reload mid-session into two Reacts ("Invalid hook call").
  optimizeDeps: {
    include: [
      "react",
      "react-dom",
      "react-dom/client",
      "@remix-run/react",
      "@tanstack/react-query",
      "@trpc/client",
      "@trpc/tanstack-react-query",
      "superjson",
      "clsx",
      "@radix-ui/react-dropdown-menu",
      "@radix-ui/react-tooltip",
      "@radix-ui/react-slot",
      "@radix-ui/react-dialog",
      "fflate",
      "zod",
      // Route modules import these at the top for their loaders and actions; in dev the browser still
      // requests them (the production build drops them).
      "@remix-run/node",
      "cookie",
      // The editor chunk: found only when it is first opened, which would otherwise reload the page then.
      "monaco-editor",
      "@monaco-editor/react",
    ],
    // Server-only packages reached only through `*.server.ts` modules, which the dev scanner follows although
    // the browser never loads them. Excluded, or they are "discovered" mid-session and the page reloads
    // (and @node-rs/argon2's browser build needs an optional WASM package that is not installed).
    exclude: ["@node-rs/argon2", "express", "@trpc/server", "diff"],
  },
  server: { hmr: { port: 24678 } },
  build: { target: "es2022" },
});
