import clsx from "clsx";
import { useId } from "react";
import type { ModelOption } from "#app/modules/ai/ai.types.ts";

const PROVIDER_LABEL: Record<ModelOption["provider"], string> = {
  openai: "OpenAI",
  anthropic: "Anthropic",
  compat: "OpenAI-compatible",
};

/** "$0.40 / $1.60 per M tokens", or "free" for local and demo models. */
export function priceLabel(model: Pick<ModelOption, "inputPerMTok" | "outputPerMTok" | "unpriced">): string {
  if (model.unpriced) return "price unknown";
  if (model.inputPerMTok === 0 && model.outputPerMTok === 0) return "free";
  const money = (n: number) => `$${n < 1 ? n.toFixed(2) : n.toFixed(n % 1 === 0 ? 0 : 2)}`;
  return `${money(model.inputPerMTok)} / ${money(model.outputPerMTok)} per M tokens`;
}

/** The default choice: the first model the user can call (real models before the demo). */
export function defaultModel(models: ModelOption[]): string | undefined {
  return (models.find((m) => m.available && !m.demo) ?? models.find((m) => m.available))?.id;
}

/**
 * A native select of models grouped by provider, with prices; models without credentials are listed but
 * disabled, so users see what adding a key would unlock.
 */
export function ModelSelect({
  models,
  value,
  onChange,
  disabled,
  label = "Model",
}: {
  models: ModelOption[];
  value: string | undefined;
  onChange: (id: string) => void;
  disabled?: boolean;
  label?: string;
}) {
  const id = useId();
  const groups = (["openai", "anthropic", "compat"] as const)
    .map((provider) => ({ provider, items: models.filter((m) => m.provider === provider && !m.demo) }))
    .filter((g) => g.items.length > 0);
  const demo = models.filter((m) => m.demo);
  const selected = models.find((m) => m.id === value);
  return (
    <div className="space-y-1.5">
      <label htmlFor={id} className="block text-sm font-medium text-zinc-800 dark:text-zinc-200">
        {label}
      </label>
      <select
        id={id}
        value={value ?? ""}
        disabled={disabled}
        onChange={(event) => onChange(event.target.value)}
        aria-describedby={`${id}-hint`}
        className={clsx(
          "block h-9 w-full rounded-md border border-zinc-300 bg-white px-2.5 text-sm text-zinc-900 shadow-xs",
          "disabled:opacity-60 dark:border-zinc-700 dark:bg-zinc-900 dark:text-zinc-100",
        )}
      >
        {value === undefined ? <option value="">No model available</option> : null}
        {demo.length > 0 ? (
          <optgroup label="Offline demo (no key needed)">
            {demo.map((m) => (
              <option key={m.id} value={m.id}>
                {m.label}
              </option>
            ))}
          </optgroup>
        ) : null}
        {groups.map((group) => (
          <optgroup key={group.provider} label={PROVIDER_LABEL[group.provider]}>
            {group.items.map((m) => (
              <option key={m.id} value={m.id} disabled={!m.available}>
                {m.label} — {m.available ? priceLabel(m) : "add a key in Settings → Providers"}
              </option>
            ))}
          </optgroup>
        ))}
      </select>
      <p id={`${id}-hint`} className="text-xs text-zinc-500 dark:text-zinc-400">
        {selected
          ? `${selected.id} · ${priceLabel(selected)} · ${Math.round(selected.contextWindow / 1000)}k context`
          : "Add a provider key in Settings → Providers."}
      </p>
    </div>
  );
}
