import { type ActionFunctionArgs, data, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Await, Link, useFetcher, useLoaderData, useLocation, useNavigation } from "@remix-run/react";
import clsx from "clsx";
import { memo, type ReactNode, Suspense, useCallback, useEffect, useId, useRef, useState } from "react";
import { z } from "zod";
import { BarChart } from "#app/components/charts/bar-chart.tsx";
import {
  formatCompact,
  formatCount,
  formatDay,
  formatDayLong,
  formatDuration,
} from "#app/components/charts/format.ts";
import { HorizontalBars } from "#app/components/charts/horizontal-bars.tsx";
import { Meter } from "#app/components/charts/meter.tsx";
import { DangerButton, Modal, ModalActions } from "#app/components/projects/dialog.tsx";
import { RunStatusBadge } from "#app/components/projects/project-list.tsx";
import { Button } from "#app/components/ui/button.tsx";
import { Card, CardTitle, Skeleton } from "#app/components/ui/card.tsx";
import { EmptyState } from "#app/components/ui/empty-state.tsx";
import { FormAlert } from "#app/components/ui/field.tsx";
import { PageHeader } from "#app/components/ui/page-header.tsx";
import { Section } from "#app/components/ui/section.tsx";
import { Table, TBody, Td, THead, Th } from "#app/components/ui/table.tsx";
import { type FieldErrors, fieldErrors, formDataObject } from "#app/lib/forms.ts";
import { formatMicros, MICROS_PER_DOLLAR } from "#app/modules/ai/ai.types.ts";
import { deleteBudget, listBudgets, listBudgetTargets, setBudget } from "#app/modules/ai/budgets.server.ts";
import { hasUsage, usageSummary } from "#app/modules/ai/usage.server.ts";
import {
  addDays,
  type BudgetTargets,
  type BudgetView,
  budgetLevel,
  isoDay,
  MAX_BUDGET_USD,
  type UsageSummary,
  ZSetBudgetInput,
} from "#app/modules/ai/usage.types.ts";
import { formFailure, requireUser } from "#app/modules/auth/web.server.ts";
import { startOfMonthUtc } from "#app/modules/projects/projects.server.ts";

export const meta: MetaFunction = () => [{ title: "Usage · Agentry" }];

const RANGES = [
  { id: "7d", label: "7 days", days: 7 },
  { id: "30d", label: "30 days", days: 30 },
  { id: "90d", label: "90 days", days: 90 },
  { id: "month", label: "This month", days: null },
] as const;
type RangeId = (typeof RANGES)[number]["id"];
const DEFAULT_RANGE: RangeId = "30d";

function resolveRange(id: string | null, now: Date): { range: RangeId; from: string; to: string } {
  const range = RANGES.find((r) => r.id === id) ?? RANGES.find((r) => r.id === DEFAULT_RANGE)!;
  const to = isoDay(now);
  const from = range.days === null ? isoDay(startOfMonthUtc(now)) : addDays(to, -(range.days - 1));
  return { range: range.id, from, to };
}

export async function loader({ context, request }: LoaderFunctionArgs) {
  const auth = requireUser(context, request);
  const { range, from, to } = resolveRange(new URL(request.url).searchParams.get("range"), new Date());
  const deps = { db: context.db };
  // Not awaited: the page paints at once and the figures stream in.
  const usage = Promise.all([
    usageSummary({ userId: auth.userId, from, to }, deps),
    hasUsage({ userId: auth.userId }, deps),
  ]).then(([summary, everUsed]) => ({ summary, everUsed }));
  const budgets = listBudgets({ userId: auth.userId }, deps);
  // Mark the rejections handled now; <Await> still receives them.
  usage.catch(() => undefined);
  budgets.catch(() => undefined);
  const targets = await listBudgetTargets({ userId: auth.userId }, deps);
  return { range, from, to, usage, budgets, targets };
}

const ZIntent = z.discriminatedUnion("intent", [
  z.object({
    intent: z.literal("set-budget"),
    scope: z.string(),
    period: z.string().optional(),
    projectId: z.string().optional(),
    apiKeyId: z.string().optional(),
    amount: z.string(),
  }),
  z.object({ intent: z.literal("delete-budget"), id: z.string() }),
]);

/**
 * The budget form's fields as setBudget's input: the amount typed in dollars ("$1,200.50" is fine), the
 * target of the chosen scope only. Used by the browser (to check before sending) and by the action.
 */
function budgetFormInput(form: Record<string, string | undefined>) {
  const amount = (form.amount ?? "").replace(/[$,\s]/g, "");
  return {
    scope: form.scope,
    period: form.period || undefined,
    projectId: form.scope === "project" ? form.projectId || undefined : undefined,
    apiKeyId: form.scope === "api_key" ? form.apiKeyId || undefined : undefined,
    limitUsd: amount === "" ? Number.NaN : Number(amount),
  };
}

type ActionResult = { ok: boolean; intent: string; error?: string | null; errors?: FieldErrors };

/** Budget changes: set (create or replace) and delete. */
export async function action({ context, request }: ActionFunctionArgs) {
  const auth = requireUser(context, request);
  const parsed = ZIntent.safeParse(Object.fromEntries(await request.formData()));
  if (!parsed.success) {
    return data<ActionResult>({ ok: false, intent: "unknown", error: "Unknown request" }, 400);
  }
  const input = parsed.data;
  const deps = {
    db: context.db,
    ip: context.client.ip ?? undefined,
    userAgent: context.client.userAgent ?? undefined,
  };
  try {
    if (input.intent === "delete-budget") {
      await deleteBudget({ userId: auth.userId, id: input.id }, deps);
      context.ai.service.invalidateUser(auth.userId);
      return data<ActionResult>({ ok: true, intent: input.intent });
    }
    const fields = ZSetBudgetInput.safeParse(budgetFormInput(input));
    if (!fields.success) {
      return data<ActionResult>({ ok: false, intent: input.intent, errors: fieldErrors(fields.error) }, 400);
    }
    await setBudget({ userId: auth.userId, ...fields.data }, deps);
    // The AI service keeps each user's budget list in memory for a few seconds: apply this one now.
    context.ai.service.invalidateUser(auth.userId);
    return data<ActionResult>({ ok: true, intent: input.intent });
  } catch (error) {
    const { message, status } = formFailure(error);
    return data<ActionResult>({ ok: false, intent: input.intent, error: message }, status);
  }
}

// ─── Formatting ──────────────────────────────────────────────────────────────

/** Axis labels in dollars with as many decimals as the scale needs ("$0.0025", "$1.50", "$120"). */
function axisFormatter(maxMicros: number): (micros: number) => string {
  const maxUsd = maxMicros / MICROS_PER_DOLLAR;
  const decimals = maxUsd >= 100 ? 0 : maxUsd >= 1 ? 2 : maxUsd >= 0.01 ? 3 : 4;
  return (micros) => (micros === 0 ? "$0" : `$${(micros / MICROS_PER_DOLLAR).toFixed(decimals)}`);
}

const plural = (count: number, one: string, many = `${one}s`) =>
  `${formatCount(count)} ${count === 1 ? one : many}`;

/** "Mar 12, 14:05" in UTC, like every date in the app. */
function formatTime(value: Date | string): string {
  const date = new Date(value);
  const time = date.toISOString().slice(11, 16);
  return `${formatDay(isoDay(date))}, ${time}`;
}

/** Rounded down, so "100%" only ever means the whole (a budget at 99.96% is not "100%" full). */
const percent = (part: number, whole: number) =>
  whole === 0 ? "0%" : `${Math.floor((part / whole) * 100)}%`;

/** Money, with amounts too small for four decimals said as such instead of "$0.0000". */
const money = (micros: number) => (micros > 0 && micros < 100 ? "< $0.0001" : formatMicros(micros));

// ─── Page ────────────────────────────────────────────────────────────────────

function RangePicker({ current }: { current: RangeId }) {
  return (
    <nav aria-label="Period">
      <ul className="inline-flex rounded-md border border-zinc-200 bg-white p-0.5 text-sm dark:border-zinc-800 dark:bg-zinc-900">
        {RANGES.map((range) => (
          <li key={range.id}>
            <Link
              to={`?range=${range.id}`}
              preventScrollReset
              aria-current={range.id === current ? "page" : undefined}
              className={clsx(
                "block rounded px-3 py-1.5 font-medium whitespace-nowrap",
                range.id === current
                  ? "bg-zinc-100 text-zinc-900 dark:bg-zinc-800 dark:text-zinc-50"
                  : "text-zinc-600 hover:text-zinc-900 dark:text-zinc-400 dark:hover:text-zinc-100",
              )}
            >
              {range.label}
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function TotalCard({
  label,
  value,
  hint,
  tone,
  testId,
}: {
  label: string;
  value: ReactNode;
  hint?: ReactNode;
  tone?: "danger";
  testId?: string;
}) {
  return (
    <div className="rounded-lg border border-zinc-200 bg-white px-4 py-3 dark:border-zinc-800 dark:bg-zinc-900/50">
      <dt className="text-xs font-medium tracking-wide text-zinc-500 uppercase dark:text-zinc-400">
        {label}
      </dt>
      <dd
        className={clsx(
          "mt-1 text-xl font-semibold tabular-nums",
          tone === "danger" && "text-red-700 dark:text-red-400",
        )}
        data-testid={testId}
      >
        {value}
      </dd>
      {hint ? <dd className="mt-0.5 text-xs text-zinc-500 dark:text-zinc-400">{hint}</dd> : null}
    </div>
  );
}

function Totals({ summary }: { summary: UsageSummary }) {
  const { totals } = summary;
  const days = summary.perDay.length;
  return (
    <dl className="grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-6" aria-label="Totals">
      <TotalCard
        label="Cost"
        value={formatMicros(totals.costMicros)}
        hint={`≈ ${formatMicros(totals.costMicros / days)} a day`}
        testId="usage-total-cost"
      />
      <TotalCard label="Calls" value={formatCount(totals.calls)} testId="usage-total-calls" />
      <TotalCard
        label="Tokens in"
        value={<span title={formatCount(totals.tokensIn)}>{formatCompact(totals.tokensIn)}</span>}
      />
      <TotalCard
        label="Tokens out"
        value={<span title={formatCount(totals.tokensOut)}>{formatCompact(totals.tokensOut)}</span>}
      />
      <TotalCard
        label="Cache hits"
        value={formatCount(totals.cachedCalls)}
        hint={`${percent(totals.cachedCalls, totals.calls)} of calls`}
      />
      <TotalCard
        label="Errors"
        value={formatCount(totals.errors)}
        hint={`${percent(totals.errors, totals.calls)} of calls`}
        tone={totals.errors > 0 ? "danger" : undefined}
      />
    </dl>
  );
}

function CostPerDay({ summary }: { summary: UsageSummary }) {
  const maxMicros = Math.max(0, ...summary.perDay.map((d) => d.costMicros));
  const peak = summary.perDay.reduce((best, day) => (day.costMicros > best.costMicros ? day : best));
  return (
    <Card>
      <CardTitle aside={<span className="text-xs text-zinc-500">UTC days</span>}>Cost per day</CardTitle>
      <BarChart
        testId="cost-per-day"
        title="Cost per day"
        summary={`${formatMicros(summary.totals.costMicros)} over ${plural(summary.perDay.length, "day")} from ${formatDay(summary.from)} to ${formatDay(summary.to)}${peak.costMicros > 0 ? `; highest on ${formatDay(peak.day)} at ${formatMicros(peak.costMicros)}` : ""}.`}
        valueHeader="Cost"
        formatAxis={axisFormatter(maxMicros)}
        data={summary.perDay.map((day) => ({
          key: day.day,
          label: formatDay(day.day),
          title: formatDayLong(day.day),
          value: day.costMicros,
          valueText: formatMicros(day.costMicros),
          details: [
            plural(day.calls, "call"),
            `${formatCompact(day.tokensIn)} in · ${formatCompact(day.tokensOut)} out`,
          ],
        }))}
      />
    </Card>
  );
}

/** A card holding one horizontal bar chart; the card's title labels the chart. */
function BarsCard({
  title,
  ...chart
}: { title: string } & Omit<Parameters<typeof HorizontalBars>[0], "label">) {
  return (
    <Card>
      <CardTitle>{title}</CardTitle>
      <HorizontalBars label={title} {...chart} />
    </Card>
  );
}

function TokensByModel({ summary }: { summary: UsageSummary }) {
  return (
    <BarsCard
      title="Tokens by model"
      testId="tokens-by-model"
      formatValue={formatCompact}
      series={[
        {
          label: "Tokens in",
          fill: "fill-brand-600 dark:fill-brand-500",
          swatch: "bg-brand-600 dark:bg-brand-500",
        },
        {
          label: "Tokens out",
          fill: "fill-sky-400 dark:fill-sky-300",
          swatch: "bg-sky-400 dark:bg-sky-300",
        },
      ]}
      rows={summary.byModel.map((model) => ({
        key: model.model,
        label: <span className="font-mono text-xs">{model.model}</span>,
        labelText: model.model,
        values: [model.tokensIn, model.tokensOut],
        valueText: `${formatCompact(model.tokensIn)} in · ${formatCompact(model.tokensOut)} out`,
        meta: [
          plural(model.calls, "call"),
          formatMicros(model.costMicros),
          model.avgLatencyMs !== null ? `avg ${formatDuration(model.avgLatencyMs)}` : null,
          model.p50TtftMs !== null ? `TTFT p50 ${formatDuration(model.p50TtftMs)}` : null,
        ]
          .filter(Boolean)
          .join(" · "),
      }))}
    />
  );
}

function CostByProject({ summary }: { summary: UsageSummary }) {
  return (
    <BarsCard
      title="Cost by project"
      testId="cost-by-project"
      formatValue={formatMicros}
      series={[{ label: "Cost", fill: "fill-emerald-500 dark:fill-emerald-400", swatch: "bg-emerald-500" }]}
      rows={summary.byProject.map((project) => ({
        key: project.projectId ?? "none",
        label: project.projectId ? (
          <Link to={`/projects/${project.projectId}`} className="font-medium hover:underline">
            {project.projectName ?? "Project"}
          </Link>
        ) : (
          <span className="text-zinc-500 italic">No project</span>
        ),
        labelText: project.projectName ?? "No project",
        values: [project.costMicros],
        valueText: formatMicros(project.costMicros),
        meta: `${plural(project.calls, "call")} · ${formatCompact(project.tokensIn + project.tokensOut)} tokens`,
      }))}
    />
  );
}

function TopRuns({ summary }: { summary: UsageSummary }) {
  return (
    <Card flush>
      <div className="px-5 pt-5">
        <CardTitle>Most expensive runs</CardTitle>
      </div>
      {summary.topRuns.length === 0 ? (
        <p className="px-5 pb-5 text-sm text-zinc-500 dark:text-zinc-400">
          No workflow run made AI calls in this period.
        </p>
      ) : (
        <Table density="card" aria-label="Most expensive runs" data-testid="top-runs">
          <THead>
            <Th className="pl-5">Run</Th>
            <Th>Project</Th>
            <Th>Status</Th>
            <Th align="right">Calls</Th>
            <Th align="right">Tokens</Th>
            <Th align="right">Cost</Th>
            <Th className="pr-5">Started</Th>
          </THead>
          <TBody>
            {summary.topRuns.map((run) => (
              <tr key={run.runId}>
                <Td className="pl-5">
                  <Link
                    to={`/projects/${run.projectId}`}
                    className="font-medium text-zinc-900 hover:underline dark:text-zinc-100"
                    title={`Run ${run.runId}`}
                  >
                    {run.workflowName ?? "Run"}
                  </Link>
                </Td>
                <Td muted>{run.projectName ?? "—"}</Td>
                <Td>
                  <RunStatusBadge status={run.status} />
                </Td>
                <Td numeric>{formatCount(run.calls)}</Td>
                <Td numeric title={formatCount(run.tokens)}>
                  {formatCompact(run.tokens)}
                </Td>
                <Td numeric className="font-medium">
                  {formatMicros(run.costMicros)}
                </Td>
                <Td muted nowrap className="pr-5 text-xs">
                  {formatTime(run.startedAt)} UTC
                </Td>
              </tr>
            ))}
          </TBody>
        </Table>
      )}
    </Card>
  );
}

function CallResult({ call }: { call: UsageSummary["recentCalls"][number] }) {
  if (call.error && /^(aborted|cancelled)/i.test(call.error)) {
    return (
      <span
        className="inline-flex items-center rounded-full bg-zinc-100 px-2 py-0.5 text-xs font-medium text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300"
        title={call.error}
      >
        Cancelled
      </span>
    );
  }
  if (call.error) {
    return (
      <span
        className="inline-flex max-w-48 items-center rounded-full bg-red-50 px-2 py-0.5 text-xs font-medium text-red-800 dark:bg-red-950/60 dark:text-red-200"
        title={call.error}
      >
        <span className="truncate">Error: {call.error}</span>
      </span>
    );
  }
  if (call.cached) {
    return (
      <span className="inline-flex items-center rounded-full bg-sky-50 px-2 py-0.5 text-xs font-medium text-sky-800 dark:bg-sky-950/60 dark:text-sky-200">
        Cache hit
      </span>
    );
  }
  return <span className="text-xs text-zinc-500 dark:text-zinc-400">OK</span>;
}

/** Rows shown before "Show all". */
const RECENT_SHOWN = 15;

function RecentCalls({ summary }: { summary: UsageSummary }) {
  const [all, setAll] = useState(false);
  const calls = all ? summary.recentCalls : summary.recentCalls.slice(0, RECENT_SHOWN);
  const hidden = summary.recentCalls.length - calls.length;
  return (
    <Card flush>
      <div className="px-5 pt-5">
        <CardTitle
          aside={<span className="text-xs text-zinc-500">The newest calls of the period, up to 50</span>}
        >
          Recent calls
        </CardTitle>
      </div>
      <Table density="card" aria-label="Recent calls" data-testid="recent-calls">
        <THead>
          <Th className="pl-5">Time (UTC)</Th>
          <Th>Model</Th>
          <Th>Project</Th>
          <Th align="right">Tokens in / out</Th>
          <Th align="right">Cost</Th>
          <Th align="right">TTFT</Th>
          <Th align="right">Latency</Th>
          <Th className="pr-5">Result</Th>
        </THead>
        <TBody>
          {calls.map((call) => (
            <tr key={call.id}>
              <Td muted nowrap className="pl-5 text-xs">
                <time dateTime={new Date(call.createdAt).toISOString()}>{formatTime(call.createdAt)}</time>
              </Td>
              <Td>
                <span className="font-mono text-xs whitespace-nowrap">{call.model}</span>
                {call.templateVersion ? (
                  <span className="block text-xs text-zinc-500 dark:text-zinc-400">
                    {call.templateVersion.templateName} v{call.templateVersion.number}
                  </span>
                ) : null}
              </Td>
              <Td className="max-w-40 truncate">
                {call.projectId ? (
                  <Link to={`/projects/${call.projectId}`} className="hover:underline">
                    {call.projectName ?? "Project"}
                  </Link>
                ) : (
                  <span className="text-zinc-400">—</span>
                )}
              </Td>
              <Td numeric nowrap>
                {formatCount(call.tokensIn)} / {formatCount(call.tokensOut)}
              </Td>
              <Td numeric>{formatMicros(call.costMicros)}</Td>
              <Td numeric nowrap>
                {formatDuration(call.ttftMs)}
              </Td>
              <Td numeric nowrap>
                {formatDuration(call.latencyMs)}
              </Td>
              <Td className="pr-5">
                <CallResult call={call} />
              </Td>
            </tr>
          ))}
        </TBody>
      </Table>
      {hidden > 0 || all ? (
        <div className="border-t border-zinc-100 px-5 py-3 dark:border-zinc-800">
          <Button variant="ghost" className="h-8 px-3" onClick={() => setAll(!all)} aria-expanded={all}>
            {all ? `Show the newest ${RECENT_SHOWN}` : `Show all ${summary.recentCalls.length} recent calls`}
          </Button>
        </div>
      ) : null}
    </Card>
  );
}

function NoCallsYet({ targets }: { targets: BudgetTargets }) {
  const project = targets.projects[0];
  return (
    <EmptyState
      testId="usage-empty"
      icon={<path d="M4 20V10M10 20V4M16 20v-7M22 20H2" />}
      title="No AI calls yet"
      padding="py-12"
      actions={
        <Button asChild className="mt-5">
          {project ? (
            <Link to={`/projects/${project.id}#quick-task`}>Try a quick task in {project.name}</Link>
          ) : (
            <Link to="/projects">Create a project to start</Link>
          )}
        </Button>
      }
    >
      Every model call Agentry makes for you (workflow runs, agent steps, quick tasks and calls through the
      API) is recorded here: the model, tokens in and out, cost, time to first token, latency, and whether the
      answer came from the cache.
    </EmptyState>
  );
}

/** Totals and charts: what the period cost at a glance. */
function UsageOverview({
  summary,
  everUsed,
  targets,
}: {
  summary: UsageSummary;
  everUsed: boolean;
  targets: BudgetTargets;
}) {
  if (!everUsed) return <NoCallsYet targets={targets} />;
  return (
    <div className="space-y-6">
      <Totals summary={summary} />
      {summary.totals.calls === 0 ? (
        <div
          className="rounded-lg border border-dashed border-zinc-300 px-6 py-10 text-center text-sm text-zinc-600 dark:border-zinc-700 dark:text-zinc-400"
          data-testid="usage-empty-range"
        >
          <p className="font-medium text-zinc-900 dark:text-zinc-100">No AI calls in this period</p>
          <p className="mt-1">
            Nothing was recorded from {formatDay(summary.from)} to {formatDay(summary.to)}. Pick a longer
            period above.
          </p>
        </div>
      ) : (
        <>
          <CostPerDay summary={summary} />
          <div className="grid gap-6 lg:grid-cols-2">
            <TokensByModel summary={summary} />
            <CostByProject summary={summary} />
          </div>
        </>
      )}
    </div>
  );
}

/** The details, below the budgets: most expensive runs and the newest calls. */
function UsageDetails({ summary }: { summary: UsageSummary }) {
  if (summary.totals.calls === 0) return null;
  return (
    <div className="space-y-6">
      <TopRuns summary={summary} />
      <RecentCalls summary={summary} />
    </div>
  );
}

function UsageSkeleton() {
  return (
    <div className="space-y-6" role="status" aria-label="Loading usage">
      <div className="grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-6">
        {["a", "b", "c", "d", "e", "f"].map((key) => (
          <div key={key} className="rounded-lg border border-zinc-200 px-4 py-3 dark:border-zinc-800">
            <Skeleton className="block h-3 w-16" />
            <Skeleton className="mt-2 block h-6 w-20" />
          </div>
        ))}
      </div>
      <div className="rounded-lg border border-zinc-200 p-5 dark:border-zinc-800">
        <Skeleton className="block h-4 w-28" />
        <div className="mt-6 flex h-44 items-end gap-1.5">
          {[30, 55, 20, 70, 45, 80, 35, 60, 25, 50, 65, 40].map((h, i) => (
            <span
              // biome-ignore lint/suspicious/noArrayIndexKey: static placeholder bars
              key={i}
              aria-hidden="true"
              className="block flex-1 animate-pulse rounded-t bg-zinc-200 dark:bg-zinc-800"
              style={{ height: `${h}%` }}
            />
          ))}
        </div>
      </div>
    </div>
  );
}

function LoadError({ what }: { what: string }) {
  const location = useLocation();
  return (
    <FormAlert>
      {what} could not be loaded.{" "}
      <Link to={location.pathname + location.search} className="font-medium underline" reloadDocument>
        Try again
      </Link>
      ; if it keeps failing, the server log has the details.
    </FormAlert>
  );
}

// ─── Budgets ─────────────────────────────────────────────────────────────────

const SCOPE_LABEL: Record<BudgetView["scope"], string> = {
  user: "All my usage",
  project: "Project",
  api_key: "API key",
};

function nextMonthLabel(now = new Date()): string {
  const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  return formatDay(isoDay(next));
}

function BudgetRow({
  budget,
  onEdit,
  onDelete,
}: {
  budget: BudgetView;
  onEdit: () => void;
  onDelete: () => void;
}) {
  const spent = budget.spentMicros;
  const level = spent === null ? "ok" : budgetLevel(spent, budget.limitMicros);
  return (
    <li className="py-4 first:pt-0 last:pb-0" data-testid="budget-row">
      <div className="flex flex-wrap items-start justify-between gap-3">
        <div className="min-w-0">
          <p className="truncate font-medium">
            {budget.scope === "user" ? "All my usage" : budget.targetName}
          </p>
          <p className="text-xs text-zinc-500 dark:text-zinc-400">
            {budget.scope === "user" ? "Every call you make" : SCOPE_LABEL[budget.scope]} ·{" "}
            {budget.period === "monthly" ? "Monthly (UTC calendar month)" : "Per run"}
          </p>
        </div>
        <div className="flex items-center gap-1">
          <Button
            variant="ghost"
            className="h-8 px-3"
            onClick={onEdit}
            aria-label={`Edit budget: ${budget.targetName}, ${budget.period === "monthly" ? "monthly" : "per run"}`}
          >
            Edit
          </Button>
          <Button
            variant="ghost"
            className="h-8 px-3"
            onClick={onDelete}
            aria-label={`Delete budget: ${budget.targetName}, ${budget.period === "monthly" ? "monthly" : "per run"}`}
          >
            Delete
          </Button>
        </div>
      </div>
      {spent === null ? (
        <p className="mt-2 text-sm text-zinc-700 dark:text-zinc-300">
          Each run may spend up to{" "}
          <strong className="tabular-nums">{formatMicros(budget.limitMicros)}</strong>.
        </p>
      ) : (
        <div className="mt-2 space-y-1.5">
          <Meter
            value={spent}
            max={budget.limitMicros}
            tone={level}
            label={`Spent this month: ${budget.targetName}`}
            valueText={`${formatMicros(spent)} of ${formatMicros(budget.limitMicros)} (${percent(spent, budget.limitMicros)})`}
          />
          <p className="flex flex-wrap justify-between gap-x-4 text-xs tabular-nums">
            <span className="text-zinc-700 dark:text-zinc-300">
              {formatMicros(spent)} of {formatMicros(budget.limitMicros)} this month ·{" "}
              {percent(spent, budget.limitMicros)}
            </span>
            <span
              className={clsx(
                level === "exceeded" && "font-medium text-red-700 dark:text-red-400",
                level === "warning" && "font-medium text-amber-700 dark:text-amber-400",
                level === "ok" && "text-zinc-500 dark:text-zinc-400",
              )}
            >
              {level === "exceeded"
                ? `Limit reached: new calls are refused until ${nextMonthLabel()}`
                : `${money(budget.remainingMicros ?? 0)} left${level === "warning" ? " · over 80% used" : ""}`}
            </span>
          </p>
        </div>
      )}
    </li>
  );
}

const selectClass =
  "block h-9 w-full rounded-md border border-zinc-300 bg-white px-3 text-sm text-zinc-900 shadow-xs disabled:bg-zinc-50 disabled:text-zinc-500 dark:border-zinc-700 dark:bg-zinc-900 dark:text-zinc-100 dark:disabled:bg-zinc-800";

function FieldError({ id, message }: { id: string; message?: string }) {
  if (!message) return null;
  return (
    <p id={id} className="text-xs font-medium text-red-600 dark:text-red-400">
      {message}
    </p>
  );
}

/**
 * Run `done` once when the fetcher's action succeeds. The form lives inside the dialog's content, which
 * unmounts on close: every opening starts with a fresh fetcher, so old errors never reappear.
 */
function useOnSuccess(fetcher: { state: string; data?: ActionResult }, intent: string, done: () => void) {
  const handled = useRef<ActionResult | undefined>(undefined);
  useEffect(() => {
    const result = fetcher.data;
    if (fetcher.state !== "idle" || !result?.ok || result.intent !== intent || handled.current === result)
      return;
    handled.current = result;
    done();
  }, [fetcher.state, fetcher.data, intent, done]);
}

/** Add a budget, or change an existing one's amount (its scope, target and period stay). */
function BudgetDialog({
  open,
  onOpenChange,
  editing,
  targets,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  editing: BudgetView | null;
  targets: BudgetTargets;
}) {
  return (
    <Modal
      open={open}
      onOpenChange={onOpenChange}
      title={editing ? "Edit budget" : "Add a budget"}
      description={
        editing
          ? `Change the amount for ${editing.scope === "user" ? "all your usage" : editing.targetName}.`
          : "A call that would take spending over a budget is refused before it is made."
      }
    >
      <BudgetForm editing={editing} targets={targets} onDone={() => onOpenChange(false)} />
    </Modal>
  );
}

/**
 * The project or API key a budget applies to: a select of the user's own, a pointer to create one when
 * there is none, or the fixed name when an existing budget is edited (its target cannot change).
 */
function TargetField({
  id,
  label,
  name,
  placeholder,
  options,
  none,
  createHref,
  locked,
  error,
}: {
  id: string;
  label: string;
  name: "projectId" | "apiKeyId";
  placeholder: string;
  options: { value: string; label: string }[];
  /** Said when there is nothing to choose, before "Create one first." */
  none: string;
  createHref: string;
  locked: { name: string; value: string } | null;
  error?: string;
}) {
  return (
    <div className="space-y-1.5">
      <label htmlFor={id} className="block text-sm font-medium text-zinc-800 dark:text-zinc-200">
        {label}
      </label>
      {locked ? (
        <>
          <p className="text-sm">{locked.name}</p>
          <input type="hidden" name={name} value={locked.value} />
        </>
      ) : options.length === 0 ? (
        <p className="text-sm text-zinc-600 dark:text-zinc-400">
          {none}{" "}
          <Link to={createHref} className="font-medium underline">
            Create one
          </Link>{" "}
          first.
        </p>
      ) : (
        <select
          id={id}
          name={name}
          className={selectClass}
          defaultValue=""
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? `${id}-error` : undefined}
        >
          <option value="" disabled>
            {placeholder}
          </option>
          {options.map((option) => (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          ))}
        </select>
      )}
      <FieldError id={`${id}-error`} message={error} />
    </div>
  );
}

function BudgetForm({
  editing,
  targets,
  onDone,
}: {
  editing: BudgetView | null;
  targets: BudgetTargets;
  onDone: () => void;
}) {
  const fetcher = useFetcher<ActionResult>();
  const [scope, setScope] = useState<BudgetView["scope"]>(editing?.scope ?? "user");
  const id = useId();
  const busy = fetcher.state !== "idle";
  const result = fetcher.data?.intent === "set-budget" ? fetcher.data : undefined;
  // Checked in the browser with the server's schema first; the server's answer wins once it comes.
  const [localErrors, setLocalErrors] = useState<FieldErrors | null>(null);
  const errors = localErrors ?? result?.errors ?? {};
  useOnSuccess(fetcher, "set-budget", onDone);

  const locked = editing !== null;
  return (
    <fetcher.Form
      method="post"
      className="space-y-4"
      noValidate
      onSubmit={(event) => {
        const checked = ZSetBudgetInput.safeParse(budgetFormInput(formDataObject(event.currentTarget)));
        if (checked.success) {
          setLocalErrors(null);
          return;
        }
        event.preventDefault();
        setLocalErrors(fieldErrors(checked.error));
      }}
    >
      <input type="hidden" name="intent" value="set-budget" />
      {result?.error ? <FormAlert>{result.error}</FormAlert> : null}
      <div className="space-y-1.5">
        <label htmlFor={`${id}-scope`} className="block text-sm font-medium text-zinc-800 dark:text-zinc-200">
          Applies to
        </label>
        <select
          id={`${id}-scope`}
          name={locked ? undefined : "scope"}
          value={scope}
          disabled={locked}
          onChange={(event) => setScope(event.target.value as BudgetView["scope"])}
          className={selectClass}
          aria-describedby={errors.scope ? `${id}-scope-error` : undefined}
        >
          <option value="user">All my usage</option>
          <option value="project">A project</option>
          <option value="api_key">An API key</option>
        </select>
        {locked ? <input type="hidden" name="scope" value={scope} /> : null}
        <FieldError id={`${id}-scope-error`} message={errors.scope} />
      </div>

      {scope === "project" ? (
        <TargetField
          id={`${id}-project`}
          label="Project"
          name="projectId"
          placeholder="Choose a project…"
          options={targets.projects.map((project) => ({ value: project.id, label: project.name }))}
          none="You have no projects yet."
          createHref="/projects"
          locked={editing ? { name: editing.targetName, value: editing.projectId ?? "" } : null}
          error={errors.projectId}
        />
      ) : null}

      {scope === "api_key" ? (
        <TargetField
          id={`${id}-key`}
          label="API key"
          name="apiKeyId"
          placeholder="Choose a key…"
          options={targets.apiKeys.map((key) => ({ value: key.id, label: `${key.name} (${key.prefix}…)` }))}
          none="You have no active API keys."
          createHref="/settings/api-keys"
          locked={editing ? { name: editing.targetName, value: editing.apiKeyId ?? "" } : null}
          error={errors.apiKeyId}
        />
      ) : null}

      <fieldset disabled={locked}>
        <legend className="text-sm font-medium text-zinc-800 dark:text-zinc-200">Period</legend>
        <div className="mt-2 space-y-2">
          {(
            [
              ["monthly", "Each month", "What is spent from the 1st of each month (UTC)."],
              ["per_run", "Each run", "What any single workflow run may spend."],
            ] as const
          ).map(([value, label, help]) => (
            <label key={value} className="flex items-start gap-2 text-sm">
              <input
                type="radio"
                name={locked ? undefined : "period"}
                value={value}
                defaultChecked={(editing?.period ?? "monthly") === value}
                className="mt-0.5 h-4 w-4 accent-brand-600"
              />
              <span>
                {label}
                <span className="block text-xs text-zinc-500 dark:text-zinc-400">{help}</span>
              </span>
            </label>
          ))}
        </div>
      </fieldset>
      {locked ? <input type="hidden" name="period" value={editing.period} /> : null}

      <div className="space-y-1.5">
        <label
          htmlFor={`${id}-amount`}
          className="block text-sm font-medium text-zinc-800 dark:text-zinc-200"
        >
          Amount (US dollars)
        </label>
        <div className="relative">
          <span className="pointer-events-none absolute inset-y-0 left-3 flex items-center text-sm text-zinc-500">
            $
          </span>
          <input
            id={`${id}-amount`}
            name="amount"
            type="number"
            inputMode="decimal"
            step="any"
            min="0"
            max={MAX_BUDGET_USD}
            required
            placeholder="10.00"
            defaultValue={editing ? String(editing.limitMicros / MICROS_PER_DOLLAR) : ""}
            aria-invalid={errors.limitUsd ? true : undefined}
            aria-describedby={errors.limitUsd ? `${id}-amount-error` : `${id}-amount-hint`}
            className={clsx(
              "block h-9 w-full rounded-md border bg-white pr-3 pl-7 text-sm text-zinc-900 tabular-nums shadow-xs dark:bg-zinc-900 dark:text-zinc-100",
              errors.limitUsd ? "border-red-500" : "border-zinc-300 dark:border-zinc-700",
            )}
          />
        </div>
        {errors.limitUsd ? (
          <FieldError id={`${id}-amount-error`} message={errors.limitUsd} />
        ) : (
          <p id={`${id}-amount-hint`} className="text-xs text-zinc-500 dark:text-zinc-400">
            More than $0, at most ${MAX_BUDGET_USD.toLocaleString("en-US")}.
          </p>
        )}
      </div>

      <ModalActions>
        <Button variant="secondary" onClick={onDone}>
          Cancel
        </Button>
        <Button type="submit" disabled={busy}>
          {busy ? "Saving…" : editing ? "Save" : "Add budget"}
        </Button>
      </ModalActions>
    </fetcher.Form>
  );
}

function DeleteBudgetDialog({ budget, onClose }: { budget: BudgetView | null; onClose: () => void }) {
  return (
    <Modal
      open={budget !== null}
      onOpenChange={(open) => {
        if (!open) onClose();
      }}
      title="Delete budget?"
      description={
        budget
          ? `${budget.scope === "user" ? "All my usage" : budget.targetName}, ${budget.period === "monthly" ? "monthly" : "per run"}, ${formatMicros(budget.limitMicros)}. Calls will no longer be capped by it.`
          : undefined
      }
    >
      {budget ? <DeleteBudgetForm budget={budget} onDone={onClose} /> : null}
    </Modal>
  );
}

function DeleteBudgetForm({ budget, onDone }: { budget: BudgetView; onDone: () => void }) {
  const fetcher = useFetcher<ActionResult>();
  const busy = fetcher.state !== "idle";
  const result = fetcher.data?.intent === "delete-budget" ? fetcher.data : undefined;
  useOnSuccess(fetcher, "delete-budget", onDone);
  return (
    <fetcher.Form method="post">
      <input type="hidden" name="intent" value="delete-budget" />
      <input type="hidden" name="id" value={budget.id} />
      {result?.error ? <FormAlert>{result.error}</FormAlert> : null}
      <ModalActions>
        <Button variant="secondary" onClick={onDone}>
          Cancel
        </Button>
        <DangerButton type="submit" disabled={busy}>
          {busy ? "Deleting…" : "Delete budget"}
        </DangerButton>
      </ModalActions>
    </fetcher.Form>
  );
}

function BudgetList({
  budgets,
  onEdit,
  onDelete,
}: {
  budgets: BudgetView[];
  onEdit: (budget: BudgetView) => void;
  onDelete: (budget: BudgetView) => void;
}) {
  if (budgets.length === 0) {
    return (
      <div className="rounded-md border border-dashed border-zinc-300 px-6 py-8 text-center dark:border-zinc-700">
        <p className="text-sm font-medium">No budgets</p>
        <p className="mx-auto mt-1 max-w-md text-sm text-zinc-600 dark:text-zinc-400">
          Nothing caps your spending yet. Set a monthly limit on all your usage, a project or an API key, or
          cap what a single run may spend.
        </p>
      </div>
    );
  }
  return (
    <ul className="divide-y divide-zinc-100 dark:divide-zinc-800" aria-label="Budgets">
      {budgets.map((budget) => (
        <BudgetRow
          key={budget.id}
          budget={budget}
          onEdit={() => onEdit(budget)}
          onDelete={() => onDelete(budget)}
        />
      ))}
    </ul>
  );
}

/**
 * The streamed list, memoised: opening a dialog re-renders Budgets, and an update reaching a Suspense
 * boundary that is still hydrating would make React throw its server HTML away.
 */
const AsyncBudgetList = memo(function AsyncBudgetList({
  budgets,
  onEdit,
  onDelete,
}: {
  budgets: Promise<BudgetView[]>;
  onEdit: (budget: BudgetView) => void;
  onDelete: (budget: BudgetView) => void;
}) {
  return (
    <Suspense
      fallback={
        <div className="space-y-3" role="status" aria-label="Loading budgets">
          <Skeleton className="block h-4 w-40" />
          <Skeleton className="block h-2 w-full" />
        </div>
      }
    >
      <Await resolve={budgets} errorElement={<LoadError what="Budgets" />}>
        {(list) => <BudgetList budgets={list} onEdit={onEdit} onDelete={onDelete} />}
      </Await>
    </Suspense>
  );
});

function Budgets({ budgets, targets }: { budgets: Promise<BudgetView[]>; targets: BudgetTargets }) {
  const [dialog, setDialog] = useState<{ open: boolean; editing: BudgetView | null }>({
    open: false,
    editing: null,
  });
  const [deleting, setDeleting] = useState<BudgetView | null>(null);
  const add = useCallback(() => setDialog({ open: true, editing: null }), []);
  const edit = useCallback((budget: BudgetView) => setDialog({ open: true, editing: budget }), []);
  const setOpen = useCallback((open: boolean) => setDialog((current) => ({ ...current, open })), []);
  const closeDelete = useCallback(() => setDeleting(null), []);
  return (
    <Section
      title="Budgets"
      description="Spending caps checked before every AI call. Monthly budgets count from the 1st (UTC)."
      actions={<Button onClick={add}>Add budget</Button>}
    >
      <AsyncBudgetList budgets={budgets} onEdit={edit} onDelete={setDeleting} />
      <BudgetDialog open={dialog.open} editing={dialog.editing} targets={targets} onOpenChange={setOpen} />
      <DeleteBudgetDialog budget={deleting} onClose={closeDelete} />
    </Section>
  );
}

export default function UsagePage() {
  const { range, from, to, usage, budgets, targets } = useLoaderData<typeof loader>();
  const navigation = useNavigation();
  const switching = navigation.state === "loading" && navigation.location.pathname === "/usage";
  return (
    <div className="space-y-6">
      <PageHeader
        title="Usage"
        description={`What your AI calls cost, from ${formatDay(from)} to ${formatDay(to)} (UTC).`}
        actions={<RangePicker current={range} />}
      />
      <div aria-busy={switching} className={clsx("transition-opacity", switching && "opacity-60")}>
        <Suspense key={`${from}:${to}`} fallback={<UsageSkeleton />}>
          <Await resolve={usage} errorElement={<LoadError what="Usage" />}>
            {({ summary, everUsed }) => (
              <UsageOverview summary={summary} everUsed={everUsed} targets={targets} />
            )}
          </Await>
        </Suspense>
      </div>
      <Budgets budgets={budgets} targets={targets} />
      <div aria-busy={switching} className={clsx("transition-opacity", switching && "opacity-60")}>
        <Suspense key={`${from}:${to}`} fallback={null}>
          <Await resolve={usage} errorElement={null}>
            {({ summary }) => <UsageDetails summary={summary} />}
          </Await>
        </Suspense>
      </div>
    </div>
  );
}
