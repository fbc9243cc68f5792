import path from "node:path";
import type { Command } from "../command.ts";
import { formatCost, formatDate, table } from "../format.ts";
import { pullFolder, pushFolder, type SyncSummary } from "../sync.ts";

export const projectsLs: Command = {
  path: ["projects", "ls"],
  aliases: ["list"],
  summary: "List your projects",
  usage: "agentry projects ls [--all]",
  options: { all: { type: "boolean" } },
  optionHelp: [["--all", "Include archived projects"]],
  examples: ["agentry projects ls", "agentry projects ls --json | jq -r '.items[].id'"],
  args: [0, 0],
  async run(ctx, values) {
    const api = await ctx.api();
    const { items } = await api.trpc.projects.list.query({ includeArchived: values.all === true });
    if (ctx.json) {
      ctx.printJson({ items });
      return 0;
    }
    if (items.length === 0) {
      ctx.out("No projects yet. Create one: agentry projects create <name>\n");
      return 0;
    }
    ctx.out(
      table(
        ["ID", "NAME", "FILES", "LAST RUN", "COST (MONTH)", "ACTIVE"],
        items.map((p) => [
          p.id,
          p.archivedAt ? `${p.name} (archived)` : p.name,
          String(p.fileCount),
          p.lastRun?.status ?? "-",
          formatCost(p.monthToDateCostMicros),
          formatDate(p.lastActivityAt),
        ]),
      ),
    );
    return 0;
  },
};

export const projectsCreate: Command = {
  path: ["projects", "create"],
  summary: "Create a project",
  usage: "agentry projects create <name> [--description <text>]",
  options: { description: { type: "string" } },
  optionHelp: [["--description <text>", "A description"]],
  examples: ['agentry projects create "My service"', "ID=$(agentry projects create demo --json | jq -r .id)"],
  args: [1, 1],
  async run(ctx, values, [name]) {
    const api = await ctx.api();
    const project = await api.trpc.projects.create.mutate({
      name: name as string,
      description: typeof values.description === "string" ? values.description : undefined,
    });
    if (ctx.json) ctx.printJson(project);
    else ctx.out(`Created project ${project.name} (${project.id})\n`);
    return 0;
  },
};

function printSummary(
  ctx: Parameters<Command["run"]>[0],
  summary: SyncSummary,
  verb: "push" | "pull",
): number {
  if (ctx.json) {
    ctx.printJson(summary);
  } else {
    const mark: Array<[string[], string]> = [
      [summary.created, "+"],
      [summary.updated, "~"],
      [summary.deleted, "-"],
    ];
    for (const [list, sign] of mark) for (const file of list) ctx.out(`${sign} ${file}\n`);
    for (const c of summary.conflicts) ctx.note(`! ${c.path}: ${c.reason}`);
    for (const s of summary.skipped) ctx.note(`skipped ${s.path} (${s.reason})`);
    const parts = [
      `${summary.created.length} created`,
      `${summary.updated.length} updated`,
      `${summary.unchanged.length} unchanged`,
      ...(verb === "push" ? [`${summary.deleted.length} deleted`] : []),
      `${summary.skipped.length} skipped`,
      ...(summary.conflicts.length ? [`${summary.conflicts.length} conflicts`] : []),
    ];
    ctx.out(`${verb === "push" ? "Pushed" : "Pulled"}: ${parts.join(", ")}\n`);
    if (summary.remoteOnly.length) {
      ctx.note(
        `${summary.remoteOnly.length} project file(s) are not in this folder (pull them, or push --delete to remove them).`,
      );
    }
  }
  if (summary.conflicts.length > 0) {
    if (!ctx.json)
      ctx.note("Some files were left alone because of conflicts; use --force to overwrite them.");
    return 1;
  }
  return 0;
}

export const filesPush: Command = {
  path: ["files", "push"],
  summary: "Upload a local folder's changes into a project",
  usage: "agentry files push <projectId> [dir] [--delete] [--force]",
  description:
    "Creates and updates the project's files from the folder (default: the current one). Only changed\n" +
    "files are sent, each with the version it was based on, so an edit made in the project since the\n" +
    "last sync is reported as a conflict instead of being overwritten. Skipped: node_modules/, .git/,\n" +
    "build output and the other folders an import skips, symlinks, binary files, files over 2 MB.\n" +
    "The last sync is remembered in <dir>/.agentry/sync.json.",
  options: { delete: { type: "boolean" }, force: { type: "boolean" } },
  optionHelp: [
    ["--delete", "Also delete project files that are missing from the folder"],
    ["--force", "Overwrite project files changed since the last sync"],
  ],
  examples: ["agentry files push 6f1c… .", "agentry files push 6f1c… ./src --delete"],
  args: [1, 2],
  async run(ctx, values, [projectId, dir = "."]) {
    const api = await ctx.api();
    const summary = await pushFolder({
      api,
      projectId: projectId as string,
      dir: path.resolve(ctx.io.cwd, dir),
      force: values.force === true,
      delete: values.delete === true,
      toCliError: ctx.toCliError,
    });
    return printSummary(ctx, summary, "push");
  },
};

export const filesPull: Command = {
  path: ["files", "pull"],
  summary: "Write a project's files into a local folder",
  usage: "agentry files pull <projectId> [dir] [--force]",
  description:
    "Writes new files and files you have not changed locally since the last sync (default folder: the\n" +
    "current one, created if missing). A local file that differs from the project and was changed here\n" +
    "(or never synced) is a conflict: it is left alone, listed, and the exit code is 1, unless --force.\n" +
    "Local files that are not in the project are never deleted. Binary files are skipped (the project\n" +
    "keeps no content for them).",
  options: { force: { type: "boolean" } },
  optionHelp: [["--force", "Overwrite local files that differ from the project"]],
  examples: ["agentry files pull 6f1c… ./checkout", "agentry files pull 6f1c… --force"],
  args: [1, 2],
  async run(ctx, values, [projectId, dir = "."]) {
    const api = await ctx.api();
    const summary = await pullFolder({
      api,
      projectId: projectId as string,
      dir: path.resolve(ctx.io.cwd, dir),
      force: values.force === true,
      toCliError: ctx.toCliError,
    });
    return printSummary(ctx, summary, "pull");
  },
};

export const workflowsLs: Command = {
  path: ["workflows", "ls"],
  aliases: ["list"],
  summary: "List a project's workflows",
  usage: "agentry workflows ls <projectId> [--all]",
  options: { all: { type: "boolean" } },
  optionHelp: [["--all", "Include archived workflows"]],
  examples: ["agentry workflows ls 6f1c…"],
  args: [1, 1],
  async run(ctx, values, [projectId]) {
    const api = await ctx.api();
    const { items } = await api.trpc.workflows.list.query({
      id: projectId as string,
      includeArchived: values.all === true,
    });
    if (ctx.json) {
      ctx.printJson({ items });
      return 0;
    }
    if (items.length === 0) {
      ctx.out("No workflows in this project. Create one in the browser (Workflows) or with the API.\n");
      return 0;
    }
    ctx.out(
      table(
        ["ID", "NAME", "VERSION", "STEPS", "LAST RUN"],
        items.map((w) => [
          w.id,
          w.archivedAt ? `${w.name} (archived)` : w.name,
          `v${w.latestVersion}`,
          w.stepTypes.join(" → ") || String(w.stepCount),
          w.lastRun ? `${w.lastRun.status} ${formatDate(w.lastRun.createdAt)}` : "-",
        ]),
      ),
    );
    return 0;
  },
};
