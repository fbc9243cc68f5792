import * as DropdownMenu from "@radix-ui/react-dropdown-menu";
import clsx from "clsx";
import { type DragEvent, useId, useState } from "react";
import { MENU_CONTENT } from "#app/components/ui/actions-menu.tsx";
import { Button } from "#app/components/ui/button.tsx";
import { Panel } from "#app/components/ui/panel.tsx";
import { MAX_STEPS } from "#app/modules/workflows/definition.ts";
import {
  type BuilderIssue,
  type BuilderState,
  errorCount,
  type InputRow,
  isInputType,
  isStepType,
  type Selection,
  STEP_TYPE_DESCRIPTION,
  STEP_TYPE_LABEL,
  STEP_TYPES,
  type StepRow,
  stepId,
} from "./builder-model.ts";
import { StepTypeIcon } from "./fields.tsx";

/** Focus a step's button in the list after React has re-rendered it (moves, additions). */
export function focusStepButton(key: string) {
  requestAnimationFrame(() => {
    document.querySelector<HTMLElement>(`[data-step-button="${key}"]`)?.focus();
  });
}

function ErrorBadge({ count }: { count: number }) {
  if (count === 0) return null;
  return (
    <span
      className="ml-auto shrink-0 rounded-full bg-red-100 px-1.5 py-0.5 text-[11px] font-semibold text-red-800 tabular-nums dark:bg-red-950/70 dark:text-red-200"
      title={`${count} problem${count === 1 ? "" : "s"}`}
    >
      {count}
      <span className="sr-only"> problem{count === 1 ? "" : "s"}</span>
    </span>
  );
}

const moveButton =
  "inline-flex h-7 w-7 items-center justify-center rounded text-zinc-500 hover:bg-zinc-100 hover:text-zinc-900 disabled:cursor-not-allowed disabled:opacity-30 disabled:hover:bg-transparent dark:hover:bg-zinc-800 dark:hover:text-zinc-100";

function Arrow({ up }: { up: boolean }) {
  return (
    <svg
      width="14"
      height="14"
      viewBox="0 0 24 24"
      fill="none"
      stroke="currentColor"
      strokeWidth="2"
      aria-hidden="true"
    >
      <path d={up ? "M12 19V5M5 12l7-7 7 7" : "M12 5v14M19 12l-7 7-7-7"} />
    </svg>
  );
}

/**
 * The steps in run order. Click (or Enter) selects one; drag a row, or press Alt+↑/↓ on it (or use its
 * arrow buttons), to move it; Delete asks to remove it. The inputs are listed below, selectable the same way.
 */
export function StepList({
  state,
  issues,
  onSelect,
  onAdd,
  onMove,
  onRemove,
  onAddInput,
}: {
  state: Pick<BuilderState, "steps" | "inputs" | "selection">;
  issues: readonly BuilderIssue[];
  onSelect: (selection: Selection) => void;
  onAdd: (type: (typeof STEP_TYPES)[number]) => void;
  /** Move a step to an index, saying how it was moved (for the announcement). */
  onMove: (key: string, to: number) => void;
  onRemove: (key: string) => void;
  onAddInput: () => void;
}) {
  const stepsTitle = useId();
  const inputsTitle = useId();
  const [dragKey, setDragKey] = useState<string | null>(null);
  /** The gap a dragged step would drop into: 0 = before the first, n = after the last. */
  const [dropGap, setDropGap] = useState<number | null>(null);
  const { steps, inputs, selection } = state;
  const full = steps.length >= MAX_STEPS;

  function gapFor(event: DragEvent<HTMLElement>, index: number) {
    const box = event.currentTarget.getBoundingClientRect();
    return event.clientY > box.top + box.height / 2 ? index + 1 : index;
  }

  function drop(gap: number) {
    const from = steps.findIndex((row) => row.key === dragKey);
    if (from !== -1) {
      const to = gap > from ? gap - 1 : gap;
      if (to !== from) onMove(steps[from]!.key, to);
    }
    setDragKey(null);
    setDropGap(null);
  }

  return (
    <div className="space-y-4">
      <Panel
        titleId={stepsTitle}
        title={
          <span>
            Steps <span className="font-normal text-zinc-500 tabular-nums">{steps.length}</span>
          </span>
        }
        aside={<AddStepMenu onAdd={onAdd} disabled={full} />}
      >
        {steps.length === 0 ? (
          <p className="px-4 py-6 text-center text-sm text-zinc-500">
            No steps yet. A workflow needs at least one: add a step.
          </p>
        ) : (
          <ol
            className="space-y-1 p-2"
            aria-labelledby={stepsTitle}
            aria-describedby={`${stepsTitle}-help`}
            onDragLeave={(event) => {
              if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setDropGap(null);
            }}
          >
            {steps.map((row, index) => (
              <StepItem
                key={row.key}
                row={row}
                index={index}
                count={steps.length}
                selected={selection?.kind === "step" && selection.key === row.key}
                errors={errorCount(issues, row.key)}
                dragging={dragKey === row.key}
                dropBefore={dragKey !== null && dropGap === index}
                dropAfter={dragKey !== null && dropGap === steps.length && index === steps.length - 1}
                onSelect={() => onSelect({ kind: "step", key: row.key })}
                onMove={(to) => onMove(row.key, to)}
                onRemove={() => onRemove(row.key)}
                onDragStart={(event) => {
                  event.dataTransfer.effectAllowed = "move";
                  event.dataTransfer.setData("text/plain", stepId(row.step));
                  setDragKey(row.key);
                }}
                onDragOver={(event) => {
                  if (dragKey === null) return;
                  event.preventDefault();
                  event.dataTransfer.dropEffect = "move";
                  setDropGap(gapFor(event, index));
                }}
                onDrop={(event) => {
                  if (dragKey === null) return;
                  event.preventDefault();
                  drop(gapFor(event, index));
                }}
                onDragEnd={() => {
                  setDragKey(null);
                  setDropGap(null);
                }}
              />
            ))}
          </ol>
        )}
        <p
          id={`${stepsTitle}-help`}
          className="border-t border-zinc-100 px-4 py-2 text-xs text-zinc-500 dark:border-zinc-800"
        >
          Drag to reorder, or press Alt+↑/↓ on a step.
        </p>
      </Panel>

      <Panel
        titleId={inputsTitle}
        title={
          <span>
            Inputs <span className="font-normal text-zinc-500 tabular-nums">{inputs.length}</span>
          </span>
        }
        aside={
          <Button variant="secondary" className="h-8 px-2.5 text-xs" onClick={onAddInput}>
            Add input
          </Button>
        }
      >
        {inputs.length === 0 ? (
          <p className="px-4 py-5 text-center text-sm text-zinc-500">
            No inputs. Add one for each value a run asks for.
          </p>
        ) : (
          <ul className="space-y-1 p-2" aria-labelledby={inputsTitle}>
            {inputs.map((row) => (
              <InputItem
                key={row.key}
                row={row}
                selected={selection?.kind === "input" && selection.key === row.key}
                errors={errorCount(issues, row.key)}
                onSelect={() => onSelect({ kind: "input", key: row.key })}
              />
            ))}
          </ul>
        )}
      </Panel>
    </div>
  );
}

function StepItem({
  row,
  index,
  count,
  selected,
  errors,
  dragging,
  dropBefore,
  dropAfter,
  onSelect,
  onMove,
  onRemove,
  onDragStart,
  onDragOver,
  onDrop,
  onDragEnd,
}: {
  row: StepRow;
  index: number;
  count: number;
  selected: boolean;
  errors: number;
  dragging: boolean;
  dropBefore: boolean;
  dropAfter: boolean;
  onSelect: () => void;
  onMove: (to: number) => void;
  onRemove: () => void;
  onDragStart: (event: DragEvent<HTMLLIElement>) => void;
  onDragOver: (event: DragEvent<HTMLLIElement>) => void;
  onDrop: (event: DragEvent<HTMLLIElement>) => void;
  onDragEnd: () => void;
}) {
  const { step } = row;
  const type = isStepType(step.type) ? step.type : null;
  const id = stepId(step);
  const model = (type === "llm" || type === "agent") && typeof step.model === "string" ? step.model : null;
  return (
    <li
      draggable
      onDragStart={onDragStart}
      onDragOver={onDragOver}
      onDrop={onDrop}
      onDragEnd={onDragEnd}
      data-testid="step-item"
      data-step-id={id}
      className={clsx(
        "group relative flex items-center gap-1 rounded-md border",
        selected
          ? "border-brand-500 bg-brand-50 dark:border-brand-500 dark:bg-brand-700/20"
          : "border-transparent hover:bg-zinc-50 dark:hover:bg-zinc-800/60",
        dragging && "opacity-40",
      )}
    >
      {dropBefore ? (
        <span aria-hidden="true" className="absolute -top-1 right-1 left-1 h-0.5 rounded bg-brand-500" />
      ) : null}
      {dropAfter ? (
        <span aria-hidden="true" className="absolute right-1 -bottom-1 left-1 h-0.5 rounded bg-brand-500" />
      ) : null}
      <span
        aria-hidden="true"
        className="cursor-grab pl-1 text-zinc-400 active:cursor-grabbing"
        title="Drag to reorder"
      >
        <svg width="12" height="16" viewBox="0 0 12 16" fill="currentColor">
          <circle cx="4" cy="4" r="1.2" />
          <circle cx="8" cy="4" r="1.2" />
          <circle cx="4" cy="8" r="1.2" />
          <circle cx="8" cy="8" r="1.2" />
          <circle cx="4" cy="12" r="1.2" />
          <circle cx="8" cy="12" r="1.2" />
        </svg>
      </span>
      <button
        type="button"
        data-step-button={row.key}
        aria-current={selected ? "true" : undefined}
        aria-keyshortcuts="Alt+ArrowUp Alt+ArrowDown Delete"
        onClick={onSelect}
        onKeyDown={(event) => {
          if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
            event.preventDefault();
            const to = index + (event.key === "ArrowUp" ? -1 : 1);
            if (to >= 0 && to < count) onMove(to);
          } else if (event.key === "Delete") {
            event.preventDefault();
            onRemove();
          }
        }}
        className="flex min-w-0 flex-1 items-center gap-2 rounded px-1.5 py-1.5 text-left"
      >
        <span className="w-5 shrink-0 text-right text-xs text-zinc-500 tabular-nums">{index + 1}</span>
        <StepTypeIcon type={type} className="shrink-0 text-zinc-500 dark:text-zinc-400" />
        <span className="min-w-0 flex-1">
          <span className="block truncate font-mono text-[13px] font-medium text-zinc-900 dark:text-zinc-100">
            {id || <span className="font-sans text-zinc-400 italic">no id</span>}
          </span>
          <span
            className="block truncate text-xs text-zinc-500 dark:text-zinc-400"
            title={model ? `${type ? STEP_TYPE_LABEL[type] : ""} · ${model}` : undefined}
          >
            {/* The icon shows the type; a model step shows its model, which says more. */}
            {model ? <span className="sr-only">{type ? STEP_TYPE_LABEL[type] : ""}, </span> : null}
            {model || (type ? STEP_TYPE_LABEL[type] : "No type")}
          </span>
        </span>
        <ErrorBadge count={errors} />
      </button>
      <span className="flex shrink-0 flex-col pr-1 opacity-60 group-focus-within:opacity-100 group-hover:opacity-100">
        <button
          type="button"
          className={moveButton}
          disabled={index === 0}
          onClick={() => onMove(index - 1)}
          aria-label={`Move ${id || `step ${index + 1}`} up`}
        >
          <Arrow up />
        </button>
        <button
          type="button"
          className={moveButton}
          disabled={index === count - 1}
          onClick={() => onMove(index + 1)}
          aria-label={`Move ${id || `step ${index + 1}`} down`}
        >
          <Arrow up={false} />
        </button>
      </span>
    </li>
  );
}

function InputItem({
  row,
  selected,
  errors,
  onSelect,
}: {
  row: InputRow;
  selected: boolean;
  errors: number;
  onSelect: () => void;
}) {
  const type = isInputType(row.spec.type) ? row.spec.type : "no type";
  return (
    <li data-testid="input-item">
      <button
        type="button"
        aria-current={selected ? "true" : undefined}
        onClick={onSelect}
        className={clsx(
          "flex w-full items-center gap-2 rounded-md border px-2.5 py-1.5 text-left",
          selected
            ? "border-brand-500 bg-brand-50 dark:border-brand-500 dark:bg-brand-700/20"
            : "border-transparent hover:bg-zinc-50 dark:hover:bg-zinc-800/60",
        )}
      >
        <span className="min-w-0 flex-1 truncate font-mono text-[13px] font-medium">
          {row.name || <span className="font-sans text-zinc-400 italic">no name</span>}
        </span>
        <span className="shrink-0 text-xs text-zinc-500">{type}</span>
        <ErrorBadge count={errors} />
      </button>
    </li>
  );
}

function AddStepMenu({
  onAdd,
  disabled,
}: {
  onAdd: (type: (typeof STEP_TYPES)[number]) => void;
  disabled: boolean;
}) {
  const item =
    "flex w-full cursor-default items-start gap-2.5 rounded px-2 py-2 text-left outline-none select-none data-[highlighted]:bg-zinc-100 dark:data-[highlighted]:bg-zinc-800";
  return (
    <DropdownMenu.Root>
      <DropdownMenu.Trigger asChild>
        <Button
          variant="secondary"
          className="h-8 px-2.5 text-xs"
          disabled={disabled}
          title={disabled ? `A workflow has at most ${MAX_STEPS} steps` : undefined}
        >
          Add step
          <svg
            width="12"
            height="12"
            viewBox="0 0 24 24"
            fill="none"
            stroke="currentColor"
            strokeWidth="2"
            aria-hidden="true"
          >
            <path d="M6 9l6 6 6-6" />
          </svg>
        </Button>
      </DropdownMenu.Trigger>
      <DropdownMenu.Portal>
        <DropdownMenu.Content align="end" sideOffset={4} className={clsx(MENU_CONTENT, "w-72")}>
          {STEP_TYPES.map((type) => (
            <DropdownMenu.Item key={type} className={item} onSelect={() => onAdd(type)}>
              <StepTypeIcon type={type} className="mt-0.5 shrink-0 text-zinc-500" />
              <span>
                <span className="block font-medium text-zinc-900 dark:text-zinc-100">
                  {STEP_TYPE_LABEL[type]}
                </span>
                <span className="block text-xs text-zinc-500 dark:text-zinc-400">
                  {STEP_TYPE_DESCRIPTION[type]}
                </span>
              </span>
            </DropdownMenu.Item>
          ))}
        </DropdownMenu.Content>
      </DropdownMenu.Portal>
    </DropdownMenu.Root>
  );
}
