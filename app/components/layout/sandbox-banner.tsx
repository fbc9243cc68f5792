import { Link } from "@remix-run/react";
import { StrokeIcon } from "#app/components/ui/stroke-icon.tsx";

/** What the root loader tells signed-in pages about the sandbox (no paths, no raw reasons). */
export type SandboxNotice = { mode: "bwrap" | "unsafe" | "unavailable"; summary: string };

/**
 * A strip under the header on every page when commands do not run in a sandbox: red when they run without
 * one (the operator's unsafe opt-in), amber when command and agent steps are refused. Nothing otherwise.
 */
export function SandboxBanner({ sandbox }: { sandbox: SandboxNotice | null }) {
  if (!sandbox || sandbox.mode === "bwrap") return null;
  const unsafe = sandbox.mode === "unsafe";
  return (
    <div
      role={unsafe ? "alert" : "status"}
      data-testid="sandbox-banner"
      data-mode={sandbox.mode}
      className={
        unsafe
          ? "border-b border-red-200 bg-red-50 text-red-900 dark:border-red-900/60 dark:bg-red-950/50 dark:text-red-100"
          : "border-b border-amber-200 bg-amber-50 text-amber-900 dark:border-amber-900/60 dark:bg-amber-950/40 dark:text-amber-100"
      }
    >
      <div className="mx-auto flex max-w-6xl items-start gap-2 px-4 py-2 text-sm sm:px-6">
        <StrokeIcon size={16} className="mt-0.5 shrink-0">
          <path d="M12 3 2 20h20L12 3zM12 10v4M12 17v.5" />
        </StrokeIcon>
        <p className="min-w-0 flex-1">
          <span className="font-semibold">{unsafe ? "No sandbox. " : "Commands are refused. "}</span>
          {sandbox.summary}{" "}
          <Link
            to="/status#sandbox"
            className="font-medium underline underline-offset-2 hover:no-underline focus-visible:outline-2"
          >
            Details
          </Link>
        </p>
      </div>
    </div>
  );
}
