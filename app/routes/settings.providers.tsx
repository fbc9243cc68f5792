import { type ActionFunctionArgs, data, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { useFetcher, useLoaderData } from "@remix-run/react";
import clsx from "clsx";
import { type FormEvent, type ReactNode, useEffect, useId, useRef, useState } from "react";
import { z } from "zod";
import { DangerButton, Modal, ModalActions } from "#app/components/projects/dialog.tsx";
import { Button } from "#app/components/ui/button.tsx";
import { Field, FormAlert } from "#app/components/ui/field.tsx";
import { DateTime, EmptyState, Section } from "#app/components/ui/section.tsx";
import { type FieldErrors, fieldErrors } from "#app/lib/forms.ts";
import {
  type ConnectionTestResult,
  type CredentialView,
  PROVIDER_KINDS,
  type ProviderKind,
  ZAddCredentialInput,
  ZRotateCredentialInput,
} from "#app/modules/ai/ai.types.ts";
import {
  addCredential,
  type CredentialsDeps,
  deleteCredential,
  listCredentials,
  rotateCredential,
  serverProviders,
  testConnection,
  testCredential,
} from "#app/modules/ai/credentials.server.ts";
import { formFailure, requireUser } from "#app/modules/auth/web.server.ts";

export const meta: MetaFunction = () => [{ title: "Providers · Settings · Agentry" }];

const LABELS: Record<ProviderKind, string> = {
  openai: "OpenAI",
  anthropic: "Anthropic",
  compat: "OpenAI-compatible",
};

/** Where each provider's default base URL is, shown as the placeholder of the optional field. */
const DEFAULT_BASE_URLS: Record<Exclude<ProviderKind, "compat">, string> = {
  openai: "https://api.openai.com/v1",
  anthropic: "https://api.anthropic.com",
};

/** Common OpenAI-compatible servers: one click fills the name and base URL. */
const COMPAT_PRESETS = [
  { label: "Ollama", name: "ollama", baseUrl: "http://127.0.0.1:11434/v1" },
  { label: "vLLM", name: "vllm", baseUrl: "http://127.0.0.1:8000/v1" },
  { label: "LM Studio", name: "lm-studio", baseUrl: "http://127.0.0.1:1234/v1" },
  { label: "Hugging Face", name: "hf", baseUrl: "https://router.huggingface.co/v1" },
];

export async function loader({ context, request }: LoaderFunctionArgs) {
  const auth = requireUser(context, request);
  return {
    credentials: await listCredentials({ userId: auth.userId }, { db: context.db }),
    server: serverProviders(context.ai.config),
    allowUserBaseUrls: context.ai.config.allowUserBaseUrls,
  };
}

const ZIntent = z.discriminatedUnion("intent", [
  z.object({
    intent: z.literal("add"),
    provider: z.string(),
    name: z.string().optional(),
    apiKey: z.string().optional(),
    baseUrl: z.string().optional(),
  }),
  z.object({
    intent: z.literal("test-unsaved"),
    provider: z.string(),
    apiKey: z.string().optional(),
    baseUrl: z.string().optional(),
  }),
  z.object({ intent: z.literal("test"), id: z.string() }),
  z.object({ intent: z.literal("rotate"), id: z.string(), apiKey: z.string() }),
  z.object({ intent: z.literal("delete"), id: z.string() }),
]);

export type ProvidersActionResult = {
  ok: boolean;
  intent: string;
  error?: string | null;
  errors?: FieldErrors;
  test?: ConnectionTestResult;
  saved?: { provider: ProviderKind; name: string };
};

const blankToUndefined = (value: string | undefined) => (value?.trim() ? value : undefined);

export async function action({ context, request }: ActionFunctionArgs) {
  const auth = requireUser(context, request);
  const parsed = ZIntent.safeParse(Object.fromEntries(await request.formData()));
  if (!parsed.success) {
    return data<ProvidersActionResult>({ ok: false, intent: "unknown", error: "Unknown request" }, 400);
  }
  const input = parsed.data;
  const deps: CredentialsDeps = {
    db: context.db,
    keyring: context.ai.keyring,
    config: context.ai.config,
    logger: context.logger,
    ip: context.client.ip ?? undefined,
    userAgent: context.client.userAgent ?? undefined,
  };
  const invalid = (error: z.ZodError) =>
    data<ProvidersActionResult>({ ok: false, intent: input.intent, errors: fieldErrors(error) }, 400);
  try {
    switch (input.intent) {
      case "add":
      case "test-unsaved": {
        const fields = ZAddCredentialInput.safeParse({
          provider: input.provider,
          name: input.intent === "add" ? blankToUndefined(input.name) : undefined,
          apiKey: input.apiKey ?? "",
          baseUrl: blankToUndefined(input.baseUrl),
        });
        if (!fields.success) return invalid(fields.error);
        if (input.intent === "test-unsaved") {
          const test = await testConnection({ userId: auth.userId, ...fields.data }, deps);
          return data<ProvidersActionResult>({ ok: true, intent: input.intent, test });
        }
        const saved = await addCredential({ userId: auth.userId, ...fields.data }, deps);
        context.ai.service.invalidateUser(auth.userId);
        return data<ProvidersActionResult>({
          ok: true,
          intent: input.intent,
          saved: { provider: saved.provider, name: saved.name },
        });
      }
      case "test": {
        const test = await testCredential({ userId: auth.userId, id: input.id }, deps);
        return data<ProvidersActionResult>({ ok: true, intent: input.intent, test });
      }
      case "rotate": {
        const fields = ZRotateCredentialInput.safeParse({ id: input.id, apiKey: input.apiKey });
        if (!fields.success) return invalid(fields.error);
        await rotateCredential({ userId: auth.userId, ...fields.data }, deps);
        context.ai.service.invalidateUser(auth.userId);
        return data<ProvidersActionResult>({ ok: true, intent: input.intent });
      }
      case "delete":
        await deleteCredential({ userId: auth.userId, id: input.id }, deps);
        context.ai.service.invalidateUser(auth.userId);
        return data<ProvidersActionResult>({ ok: true, intent: input.intent });
    }
  } catch (error) {
    const { message, status } = formFailure(error);
    return data<ProvidersActionResult>({ ok: false, intent: input.intent, error: message }, { status });
  }
}

// ─── Pieces ──────────────────────────────────────────────────────────────────

/** A monogram per provider (no trademarked logos), with the provider's name for screen readers. */
function ProviderBadge({ provider }: { provider: ProviderKind }) {
  const styles: Record<ProviderKind, string> = {
    openai: "bg-zinc-900 text-white dark:bg-zinc-100 dark:text-zinc-900",
    anthropic: "bg-orange-100 text-orange-900 dark:bg-orange-950 dark:text-orange-200",
    compat: "bg-brand-100 text-brand-700 dark:bg-brand-700/30 dark:text-brand-100",
  };
  const letters: Record<ProviderKind, string> = { openai: "OA", anthropic: "An", compat: "{ }" };
  return (
    <span
      aria-hidden="true"
      className={clsx(
        "inline-flex h-9 w-9 shrink-0 items-center justify-center rounded-md font-mono text-xs font-semibold",
        styles[provider],
      )}
    >
      {letters[provider]}
    </span>
  );
}

/** "Connected — 12 models: a, b, c and 9 more", or the reason it failed. */
function TestOutcome({ result }: { result: ConnectionTestResult }) {
  if (!result.ok) {
    return (
      <p
        role="alert"
        className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-800 dark:bg-red-950/50 dark:text-red-200"
      >
        <span className="font-medium">Connection failed:</span> {result.error}
      </p>
    );
  }
  const shown = result.models.slice(0, 4);
  const more = result.models.length - shown.length;
  return (
    <div
      role="status"
      className="rounded-md bg-emerald-50 px-3 py-2 text-sm text-emerald-900 dark:bg-emerald-950/50 dark:text-emerald-100"
    >
      <p>
        <span className="font-medium">
          Connected — {result.models.length} {result.models.length === 1 ? "model" : "models"}
        </span>{" "}
        <span className="text-emerald-700 dark:text-emerald-300">({result.latencyMs} ms)</span>
      </p>
      {shown.length > 0 ? (
        <p className="mt-1 flex flex-wrap items-center gap-1.5">
          {shown.map((model) => (
            <code
              key={model}
              className="rounded bg-white/70 px-1.5 py-0.5 font-mono text-xs text-emerald-900 dark:bg-emerald-900/40 dark:text-emerald-100"
            >
              {model}
            </code>
          ))}
          {more > 0 ? <span className="text-xs">and {more} more</span> : null}
        </p>
      ) : null}
    </div>
  );
}

/** What the operator configured, and the demo, so users know what works without a key of their own. */
function ServerNote({ server }: { server: ReturnType<typeof useLoaderData<typeof loader>>["server"] }) {
  const configured = [
    server.openai ? "OpenAI" : null,
    server.anthropic ? "Anthropic" : null,
    ...server.compat.map((name) => `${name} (OpenAI-compatible)`),
  ].filter((v): v is string => v !== null);
  if (configured.length === 0) return null;
  return (
    <p
      className="rounded-md border border-zinc-200 bg-zinc-50 px-3 py-2 text-sm text-zinc-700 dark:border-zinc-800 dark:bg-zinc-900 dark:text-zinc-300"
      data-testid="server-providers"
    >
      This server already has keys for <span className="font-medium">{configured.join(", ")}</span>: their
      models work without a key of your own. A key you add here is used instead of the server's.
    </p>
  );
}

function DemoNote() {
  return (
    <>
      {" "}
      Until then, the <span className="font-medium text-zinc-800 dark:text-zinc-200">Offline demo model</span>{" "}
      (<code className="font-mono text-xs">compat:demo/demo</code>) works without any key: it is scripted, not
      an AI, so you can try Agentry out.
    </>
  );
}

// ─── Rows ────────────────────────────────────────────────────────────────────

function CredentialRow({
  credential,
  onRotate,
  onDelete,
}: {
  credential: CredentialView;
  onRotate: () => void;
  onDelete: () => void;
}) {
  const fetcher = useFetcher<ProvidersActionResult>();
  const testing = fetcher.state !== "idle";
  const result = fetcher.data;
  const label = `${LABELS[credential.provider]} ${credential.name}`;
  return (
    <li className="py-3" data-testid="credential-row">
      <div className="flex flex-wrap items-center gap-x-4 gap-y-2">
        <ProviderBadge provider={credential.provider} />
        <div className="min-w-0 flex-1">
          <p className="flex flex-wrap items-center gap-x-2 text-sm font-medium">
            <span>{LABELS[credential.provider]}</span>
            <span className="rounded bg-zinc-100 px-1.5 py-0.5 font-mono text-xs font-normal text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300">
              {credential.name}
            </span>
          </p>
          <p className="mt-0.5 text-xs text-zinc-500 dark:text-zinc-400">
            <span className="break-all">{credential.baseUrl ?? "Default endpoint"}</span>
            {" · "}
            {credential.hint ? (
              <span className="font-mono" title="The last characters of the key">
                key {credential.hint}
              </span>
            ) : (
              <span>no key</span>
            )}
            {" · "}
            tested <DateTime value={credential.lastTestedAt} fallback="never" />
          </p>
        </div>
        <div className="flex shrink-0 gap-1">
          <fetcher.Form method="post">
            <input type="hidden" name="intent" value="test" />
            <input type="hidden" name="id" value={credential.id} />
            <Button type="submit" variant="ghost" disabled={testing} aria-label={`Test ${label}`}>
              {testing ? "Testing…" : "Test"}
            </Button>
          </fetcher.Form>
          <Button variant="ghost" onClick={onRotate} aria-label={`Rotate key of ${label}`}>
            Rotate
          </Button>
          <Button
            variant="ghost"
            onClick={onDelete}
            aria-label={`Delete ${label}`}
            className="text-red-700 hover:bg-red-50 dark:text-red-400 dark:hover:bg-red-950/40"
          >
            Delete
          </Button>
        </div>
      </div>
      {!testing && result?.test ? (
        <div className="mt-2 sm:pl-13">
          <TestOutcome result={result.test} />
        </div>
      ) : null}
      {!testing && result?.error ? (
        <div className="mt-2 sm:pl-13">
          <FormAlert>{result.error}</FormAlert>
        </div>
      ) : null}
    </li>
  );
}

/** Closes a dialog once its form succeeded (the action answered ok; loaders have revalidated). */
function useCloseOnSuccess(
  fetcher: ReturnType<typeof useFetcher<ProvidersActionResult>>,
  onDone: () => void,
) {
  const submitted = useRef(false);
  useEffect(() => {
    if (fetcher.state !== "idle") submitted.current = true;
    else if (submitted.current && fetcher.data?.ok) {
      submitted.current = false;
      onDone();
    }
  }, [fetcher.state, fetcher.data, onDone]);
}

function RotateDialog({ credential, onClose }: { credential: CredentialView | null; onClose: () => void }) {
  const fetcher = useFetcher<ProvidersActionResult>();
  useCloseOnSuccess(fetcher, onClose);
  const busy = fetcher.state !== "idle";
  const result = fetcher.data;
  return (
    <Modal
      open={credential !== null}
      onOpenChange={(open) => (open ? undefined : onClose())}
      title="Rotate API key"
      description={
        credential
          ? `Replace the key of ${LABELS[credential.provider]} “${credential.name}”. The old key stops being used at once; revoke it at the provider afterwards.`
          : undefined
      }
    >
      {credential ? (
        <fetcher.Form method="post" className="space-y-4" key={credential.id}>
          <input type="hidden" name="intent" value="rotate" />
          <input type="hidden" name="id" value={credential.id} />
          {result && !result.ok && result.error ? <FormAlert>{result.error}</FormAlert> : null}
          <Field
            label="New API key"
            name="apiKey"
            type="password"
            required
            autoComplete="new-password"
            data-1p-ignore
            data-lpignore="true"
            spellCheck={false}
            maxLength={4096}
            error={result?.ok ? null : result?.errors?.apiKey}
            autoFocus
          />
          <ModalActions>
            <Button variant="secondary" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" disabled={busy}>
              {busy ? "Saving…" : "Replace key"}
            </Button>
          </ModalActions>
        </fetcher.Form>
      ) : null}
    </Modal>
  );
}

function DeleteDialog({
  credential,
  serverHasKey,
  onClose,
}: {
  credential: CredentialView | null;
  serverHasKey: boolean;
  onClose: () => void;
}) {
  const fetcher = useFetcher<ProvidersActionResult>();
  useCloseOnSuccess(fetcher, onClose);
  const busy = fetcher.state !== "idle";
  const result = fetcher.data;
  return (
    <Modal
      open={credential !== null}
      onOpenChange={(open) => (open ? undefined : onClose())}
      title="Delete credentials?"
      description={
        credential
          ? `${LABELS[credential.provider]} “${credential.name}” will be deleted. ${
              serverHasKey
                ? "Its models will use the server's key instead."
                : "Its models stop working for you until you add another key."
            }`
          : undefined
      }
    >
      {credential ? (
        <fetcher.Form method="post" key={credential.id}>
          <input type="hidden" name="intent" value="delete" />
          <input type="hidden" name="id" value={credential.id} />
          {result && !result.ok && result.error ? <FormAlert>{result.error}</FormAlert> : null}
          <ModalActions>
            <Button variant="secondary" onClick={onClose} autoFocus>
              Cancel
            </Button>
            <DangerButton type="submit" disabled={busy}>
              {busy ? "Deleting…" : "Delete"}
            </DangerButton>
          </ModalActions>
        </fetcher.Form>
      ) : null}
    </Modal>
  );
}

// ─── Add form ────────────────────────────────────────────────────────────────

function SelectField({
  label,
  name,
  value,
  onChange,
  children,
}: {
  label: string;
  name: string;
  value: string;
  onChange: (value: string) => void;
  children: ReactNode;
}) {
  const id = useId();
  return (
    <div className="space-y-1.5">
      <label htmlFor={id} className="block text-sm font-medium text-zinc-800 dark:text-zinc-200">
        {label}
      </label>
      <select
        id={id}
        name={name}
        value={value}
        onChange={(event) => onChange(event.target.value)}
        className="block h-9 w-full rounded-md border border-zinc-300 bg-white px-3 text-sm dark:border-zinc-700 dark:bg-zinc-900"
      >
        {children}
      </select>
    </div>
  );
}

function AddCredentialForm({ allowUserBaseUrls }: { allowUserBaseUrls: boolean }) {
  const save = useFetcher<ProvidersActionResult>();
  const test = useFetcher<ProvidersActionResult>();
  const form = useRef<HTMLFormElement>(null);
  const [provider, setProvider] = useState<ProviderKind>("openai");
  const [name, setName] = useState("");
  const [apiKey, setApiKey] = useState("");
  const [baseUrl, setBaseUrl] = useState("");
  const [advanced, setAdvanced] = useState(false);
  const saving = save.state !== "idle";
  const testing = test.state !== "idle";
  const saved = save.data?.ok ? save.data.saved : undefined;

  // After a save: empty the form (the key above all) for the next one. Every field is controlled, so
  // this is state, not form.reset() (which would leave the provider select and its state disagreeing).
  const submitted = useRef(false);
  useEffect(() => {
    if (save.state !== "idle") submitted.current = true;
    else if (submitted.current) {
      submitted.current = false;
      if (save.data?.ok) {
        setProvider("openai");
        setName("");
        setApiKey("");
        setBaseUrl("");
        setAdvanced(false);
      }
    }
  }, [save.state, save.data]);

  const compat = provider === "compat";
  const compatBlocked = compat && !allowUserBaseUrls;
  const showBaseUrl = allowUserBaseUrls && (compat || advanced);

  // Outcomes and errors are about the fields as they were submitted: editing them hides those.
  const signature = JSON.stringify([provider, name, apiKey, showBaseUrl ? baseUrl : ""]);
  const [testedSignature, setTestedSignature] = useState<string | null>(null);
  const [savedSignature, setSavedSignature] = useState<string | null>(null);
  const saveFailed = save.data && !save.data.ok && savedSignature === signature ? save.data : undefined;
  const testFailed = test.data && !test.data.ok && testedSignature === signature ? test.data : undefined;
  const errors = saveFailed?.errors ?? testFailed?.errors ?? {};
  const formError = saveFailed?.error ?? testFailed?.error ?? null;
  const runTest = () => {
    if (!form.current) return;
    setTestedSignature(signature);
    const body = new FormData(form.current);
    body.set("intent", "test-unsaved");
    test.submit(body, { method: "post" });
  };
  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setSavedSignature(signature);
    const body = new FormData(event.currentTarget);
    body.set("intent", "add");
    save.submit(body, { method: "post" });
  };

  return (
    <form ref={form} method="post" className="space-y-4" noValidate onSubmit={onSubmit}>
      {saved ? (
        <FormAlert tone="success">
          Saved {LABELS[saved.provider]} “{saved.name}”. Its models are now available in the model pickers.
        </FormAlert>
      ) : null}
      {formError ? <FormAlert>{formError}</FormAlert> : null}
      <div className="grid gap-4 sm:grid-cols-2">
        <SelectField
          label="Provider"
          name="provider"
          value={provider}
          onChange={(value) => setProvider(value as ProviderKind)}
        >
          {PROVIDER_KINDS.map((kind) => (
            <option key={kind} value={kind}>
              {LABELS[kind]}
              {kind === "compat" ? " (Ollama, vLLM, …)" : ""}
            </option>
          ))}
        </SelectField>
        <Field
          label={compat ? "Endpoint name" : "Name (optional)"}
          name="name"
          value={name}
          onChange={(event) => setName(event.target.value)}
          placeholder={compat ? "ollama" : "default"}
          autoComplete="off"
          spellCheck={false}
          maxLength={40}
          required={compat}
          error={errors.name}
          hint={
            compat ? (
              <>
                Used in model ids: <code className="font-mono">compat:{name || "<name>"}/&lt;model&gt;</code>
              </>
            ) : (
              "A label, for when you keep several keys. The one named “default” is used first."
            )
          }
        />
      </div>
      {compatBlocked ? (
        <FormAlert>
          This server does not allow custom base URLs, so you cannot add OpenAI-compatible endpoints. Ask the
          operator to configure them.
        </FormAlert>
      ) : null}
      {compat && allowUserBaseUrls ? (
        <fieldset>
          <legend className="sr-only">Presets</legend>
          <div className="flex flex-wrap items-center gap-2 text-xs">
            <span className="text-zinc-500 dark:text-zinc-400">Presets:</span>
            {COMPAT_PRESETS.map((preset) => (
              <button
                key={preset.name}
                type="button"
                onClick={() => {
                  setName(preset.name);
                  setBaseUrl(preset.baseUrl);
                }}
                className="rounded-full border border-zinc-300 px-2.5 py-1 font-medium text-zinc-700 hover:bg-zinc-100 dark:border-zinc-700 dark:text-zinc-300 dark:hover:bg-zinc-800"
              >
                {preset.label}
              </button>
            ))}
          </div>
        </fieldset>
      ) : null}
      <div className="grid gap-4 sm:grid-cols-2">
        <Field
          label={compat ? "API key (optional)" : "API key"}
          name="apiKey"
          type="password"
          value={apiKey}
          onChange={(event) => setApiKey(event.target.value)}
          // Not the user's password: keep browsers and password managers from filling or saving it.
          autoComplete="new-password"
          data-1p-ignore
          data-lpignore="true"
          spellCheck={false}
          maxLength={4096}
          required={!compat}
          placeholder={provider === "openai" ? "sk-…" : provider === "anthropic" ? "sk-ant-…" : ""}
          error={errors.apiKey}
          hint={
            compat
              ? "Leave empty for servers without keys (Ollama, LM Studio)."
              : "Stored encrypted. Only its last four characters are shown again."
          }
        />
        {showBaseUrl ? (
          <Field
            label={compat ? "Base URL" : "Base URL (optional)"}
            name="baseUrl"
            type="url"
            value={baseUrl}
            onChange={(event) => setBaseUrl(event.target.value)}
            placeholder={compat ? "http://127.0.0.1:11434/v1" : DEFAULT_BASE_URLS[provider as "openai"]}
            autoComplete="off"
            spellCheck={false}
            required={compat}
            error={errors.baseUrl}
            hint={
              compat
                ? "As the Agentry server reaches it, usually ending in /v1."
                : "For a proxy or gateway. Empty = the provider's own endpoint."
            }
          />
        ) : null}
      </div>
      {!compat && allowUserBaseUrls && !advanced ? (
        <button
          type="button"
          onClick={() => setAdvanced(true)}
          className="text-xs font-medium text-brand-600 hover:underline dark:text-brand-500"
        >
          Advanced: use a custom base URL
        </button>
      ) : null}
      {!testing && test.data?.test && testedSignature === signature ? (
        <TestOutcome result={test.data.test} />
      ) : null}
      <div className="flex flex-wrap gap-2">
        <Button type="submit" disabled={saving || compatBlocked}>
          {saving ? "Saving…" : "Save"}
        </Button>
        <Button variant="secondary" onClick={runTest} disabled={testing || compatBlocked}>
          {testing ? "Testing…" : "Test connection"}
        </Button>
      </div>
    </form>
  );
}

// ─── Page ────────────────────────────────────────────────────────────────────

export default function ProvidersSettings() {
  const { credentials, server, allowUserBaseUrls } = useLoaderData<typeof loader>();
  const [rotating, setRotating] = useState<CredentialView | null>(null);
  const [deleting, setDeleting] = useState<CredentialView | null>(null);
  const serverHasKey = (c: CredentialView) =>
    c.provider === "compat" ? server.compat.includes(c.name) : server[c.provider];
  return (
    <div className="space-y-6">
      <Section
        title="AI providers"
        description="The services that run the models your agents and quick tasks use. Keys are encrypted at rest and never shown again."
      >
        <div className="space-y-4">
          <ServerNote server={server} />
          {credentials.length === 0 ? (
            <EmptyState title="No provider keys yet">
              <p className="mx-auto max-w-prose">
                A provider is a service that runs AI models: OpenAI, Anthropic, or any server that speaks the
                OpenAI API (Ollama and LM Studio on your machine, vLLM, Hugging Face). Add its API key below
                to use its models.
                {server.demo ? <DemoNote /> : null}
              </p>
            </EmptyState>
          ) : (
            <ul className="divide-y divide-zinc-100 dark:divide-zinc-800" aria-label="Provider credentials">
              {credentials.map((credential) => (
                <CredentialRow
                  // A rotated key remounts the row: the last test's outcome was about the old key.
                  key={`${credential.id}:${new Date(credential.updatedAt).getTime()}`}
                  credential={credential}
                  onRotate={() => setRotating(credential)}
                  onDelete={() => setDeleting(credential)}
                />
              ))}
            </ul>
          )}
        </div>
      </Section>

      <Section
        title="Add a provider"
        description="Test the connection first: it lists the models the key can use, and nothing is saved."
      >
        <AddCredentialForm allowUserBaseUrls={allowUserBaseUrls} />
      </Section>

      <RotateDialog credential={rotating} onClose={() => setRotating(null)} />
      <DeleteDialog
        credential={deleting}
        serverHasKey={deleting ? serverHasKey(deleting) : false}
        onClose={() => setDeleting(null)}
      />
    </div>
  );
}
