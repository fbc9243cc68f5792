import type { SandboxStatus } from "#app/modules/sandbox/index.server.ts";
import type { TSandboxView } from "./system.types.ts";

/**
 * Why bwrap is not used, in a few words. detectSandbox's reason names binaries by path and may quote a
 * probe's stderr: neither reaches a page or the API, only the server log (start.server.ts logs it).
 */
function causeOf(reason: string | undefined): string {
  const text = reason ?? "";
  if (/^bubblewrap .*was not found/.test(text)) return "bubblewrap is not installed";
  if (/^prlimit .*was not found/.test(text)) return "prlimit is not installed";
  if (/--version failed/.test(text)) return "bubblewrap does not start";
  if (/^sandbox configuration/.test(text)) return "the sandbox configuration is invalid";
  if (/cannot create a sandbox/.test(text)) return "bubblewrap cannot create a sandbox on this host";
  return "bubblewrap cannot be used";
}

/** What people may see of the sandbox: its mode, a short sentence, bwrap's version, whether cgroups limit. */
export function sandboxView(status: SandboxStatus): TSandboxView {
  const cause = causeOf(status.reason);
  const summary =
    status.mode === "bwrap"
      ? status.enforcement.processes === "none"
        ? "Commands run in a bubblewrap sandbox, but without a process limit (no usable pids cgroup)."
        : "Commands run in a bubblewrap sandbox."
      : status.mode === "unsafe"
        ? `Commands run without a sandbox (${cause}; AGENTRY_UNSAFE_NO_SANDBOX is set): they can read and change everything the server can.`
        : `No sandbox (${cause}): command steps and agent steps are refused.`;
  const version =
    status.bwrapVersion && /^\d+\.\d+(\.\d+)?$/.test(status.bwrapVersion) ? status.bwrapVersion : null;
  return {
    mode: status.mode,
    summary,
    bwrapVersion: version,
    cgroupLimits: status.enforcement.memory === "cgroup" && status.enforcement.processes === "cgroup",
  };
}
