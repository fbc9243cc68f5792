import * as Dialog from "@radix-ui/react-dialog";
import clsx from "clsx";
import { type ButtonHTMLAttributes, type ReactNode, useLayoutEffect, useRef } from "react";
import { StrokeIcon } from "#app/components/ui/stroke-icon.tsx";

// useLayoutEffect warns during server rendering, where there is no focus to remember anyway.
const useIsomorphicLayoutEffect = typeof window === "undefined" ? () => undefined : useLayoutEffect;

/**
 * A modal dialog in the app's look (Radix: focus trap, Escape, focus return, aria wiring). Controlled:
 * the caller owns `open`, so it can close the dialog when its form succeeds.
 */
export function Modal({
  open,
  onOpenChange,
  title,
  description,
  children,
  wide = false,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  title: string;
  description?: ReactNode;
  children: ReactNode;
  /** For content that needs room (import results, diffs). */
  wide?: boolean;
}) {
  // Radix gives focus back to a Dialog.Trigger on close; these dialogs are opened from menus, shortcuts
  // (F2 in the tree) and buttons elsewhere, so remember what had focus and return it there.
  const returnTo = useRef<HTMLElement | null>(null);
  useIsomorphicLayoutEffect(() => {
    if (open) returnTo.current = document.activeElement as HTMLElement | null;
  }, [open]);
  return (
    <Dialog.Root open={open} onOpenChange={onOpenChange}>
      <Dialog.Portal>
        <Dialog.Overlay className="fixed inset-0 z-40 bg-zinc-950/40 backdrop-blur-[1px] dark:bg-black/60" />
        <Dialog.Content
          className={clsx(
            "fixed top-1/2 left-1/2 z-50 max-h-[calc(100vh-2rem)] w-[calc(100vw-2rem)] -translate-x-1/2 -translate-y-1/2 overflow-y-auto rounded-lg border border-zinc-200 bg-white p-6 shadow-xl dark:border-zinc-800 dark:bg-zinc-900",
            wide ? "max-w-2xl" : "max-w-md",
          )}
          onCloseAutoFocus={(event) => {
            const target = returnTo.current;
            if (target?.isConnected && target !== document.body) {
              event.preventDefault();
              target.focus();
            }
          }}
          // Without a description Radix wants this explicitly, or it warns.
          {...(description ? {} : { "aria-describedby": undefined })}
        >
          <Dialog.Title className="text-base font-semibold">{title}</Dialog.Title>
          {description ? (
            <Dialog.Description className="mt-1 text-sm text-zinc-600 dark:text-zinc-400">
              {description}
            </Dialog.Description>
          ) : null}
          <div className="mt-4">{children}</div>
          <Dialog.Close
            className="absolute top-3 right-3 inline-flex h-8 w-8 items-center justify-center rounded-md text-zinc-500 hover:bg-zinc-100 hover:text-zinc-900 dark:hover:bg-zinc-800 dark:hover:text-zinc-100"
            aria-label="Close"
          >
            <StrokeIcon size={16}>
              <path d="M6 6l12 12M18 6 6 18" />
            </StrokeIcon>
          </Dialog.Close>
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}

/** The row of buttons at the bottom of a dialog form. */
export function ModalActions({ children }: { children: ReactNode }) {
  return <div className="mt-6 flex flex-wrap justify-end gap-2">{children}</div>;
}

/** A labelled textarea matching Field's look. */
export function TextArea({
  label,
  name,
  defaultValue,
  maxLength,
  rows = 3,
  hint,
  error,
  id,
}: {
  label: string;
  name: string;
  defaultValue?: string;
  maxLength?: number;
  rows?: number;
  hint?: string;
  error?: string | null;
  id: string;
}) {
  return (
    <div className="space-y-1.5">
      <label htmlFor={id} className="block text-sm font-medium text-zinc-800 dark:text-zinc-200">
        {label}
      </label>
      <textarea
        id={id}
        name={name}
        rows={rows}
        maxLength={maxLength}
        defaultValue={defaultValue}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : hint ? `${id}-hint` : undefined}
        className={clsx(
          "block w-full rounded-md border bg-white px-3 py-2 text-sm text-zinc-900 shadow-xs placeholder:text-zinc-400 dark:bg-zinc-900 dark:text-zinc-100",
          error ? "border-red-500" : "border-zinc-300 dark:border-zinc-700",
        )}
      />
      {hint && !error ? (
        <p id={`${id}-hint`} className="text-xs text-zinc-500 dark:text-zinc-400">
          {hint}
        </p>
      ) : null}
      {error ? (
        <p id={`${id}-error`} className="text-xs font-medium text-red-600 dark:text-red-400">
          {error}
        </p>
      ) : null}
    </div>
  );
}

/** A destructive action's button (delete): the app's button shape in red. */
export function DangerButton({ className, type, ...props }: ButtonHTMLAttributes<HTMLButtonElement>) {
  return (
    <button
      type={type ?? "button"}
      className={clsx(
        "inline-flex h-9 items-center justify-center gap-2 rounded-md bg-red-600 px-4 text-sm font-medium text-white transition-colors hover:bg-red-700 disabled:cursor-not-allowed disabled:bg-red-600/50",
        className,
      )}
      {...props}
    />
  );
}
