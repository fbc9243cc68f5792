import { priceLabel } from "#app/components/ai/model-select.tsx";
import type { ModelOption } from "#app/modules/ai/ai.types.ts";
import { SelectField } from "./fields.tsx";

const PROVIDER_LABEL: Record<ModelOption["provider"], string> = {
  openai: "OpenAI",
  anthropic: "Anthropic",
  compat: "OpenAI-compatible",
};

/**
 * The model of an llm or agent step: the models of the catalog grouped by provider with their prices
 * (as the quick task's picker shows them). A model the list does not have (an endpoint's own model, one
 * typed in the JSON view) stays selectable as it is, marked as such.
 */
export function ModelPicker({
  id,
  value,
  onChange,
  models,
  loading,
  messages = [],
}: {
  id: string;
  value: string;
  onChange: (id: string) => void;
  models: ModelOption[] | undefined;
  loading: boolean;
  messages?: readonly string[];
}) {
  const list = models ?? [];
  const selected = list.find((model) => model.id === value);
  const groups = (["openai", "anthropic", "compat"] as const)
    .map((provider) => ({ provider, items: list.filter((m) => m.provider === provider && !m.demo) }))
    .filter((group) => group.items.length > 0);
  const demo = list.filter((m) => m.demo);
  const hint = loading
    ? "Loading the models…"
    : selected
      ? `${selected.id} · ${priceLabel(selected)} · ${Math.round(selected.contextWindow / 1000)}k context${
          selected.available ? "" : " · no key for this provider yet: add one in Settings → Providers"
        }`
      : value
        ? `${value} is not in your model list`
        : "Choose the model this step calls.";
  return (
    <SelectField id={id} label="Model" value={value} onChange={onChange} messages={messages} hint={hint}>
      <option value="" disabled={value !== ""}>
        Choose a model…
      </option>
      {value && !selected ? <option value={value}>{value} (not in the list)</option> : null}
      {demo.length > 0 ? (
        <optgroup label="Offline demo (no key needed)">
          {demo.map((m) => (
            <option key={m.id} value={m.id}>
              {m.label} — free
            </option>
          ))}
        </optgroup>
      ) : null}
      {groups.map((group) => (
        <optgroup key={group.provider} label={PROVIDER_LABEL[group.provider]}>
          {group.items.map((m) => (
            <option key={m.id} value={m.id}>
              {m.label} — {priceLabel(m)}
              {m.available ? "" : " (no key)"}
            </option>
          ))}
        </optgroup>
      ))}
    </SelectField>
  );
}
