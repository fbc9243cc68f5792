import * as DropdownMenu from "@radix-ui/react-dropdown-menu";
import clsx from "clsx";
import type { ReactNode } from "react";
import { Button } from "./button.tsx";

/** The panel of a dropdown menu (add `min-w-…` or `w-…`). */
export const MENU_CONTENT =
  "z-50 rounded-md border border-zinc-200 bg-white p-1 text-sm shadow-lg dark:border-zinc-800 dark:bg-zinc-900";

const ITEM =
  "block w-full cursor-default rounded px-2 py-1.5 text-left text-zinc-700 outline-none select-none data-[highlighted]:bg-zinc-100 dark:text-zinc-300 dark:data-[highlighted]:bg-zinc-800";

/** The "⋯" menu of a page header (edit, archive, delete…): a labelled trigger and its items. */
export function ActionsMenu({ label, children }: { label: string; children: ReactNode }) {
  return (
    <DropdownMenu.Root>
      <DropdownMenu.Trigger asChild>
        <Button variant="secondary" aria-label={label} className="px-2.5">
          <svg width="16" height="16" viewBox="0 0 24 24" fill="currentColor" aria-hidden="true">
            <circle cx="5" cy="12" r="1.8" />
            <circle cx="12" cy="12" r="1.8" />
            <circle cx="19" cy="12" r="1.8" />
          </svg>
        </Button>
      </DropdownMenu.Trigger>
      <DropdownMenu.Portal>
        <DropdownMenu.Content align="end" sideOffset={4} className={clsx(MENU_CONTENT, "min-w-44")}>
          {children}
        </DropdownMenu.Content>
      </DropdownMenu.Portal>
    </DropdownMenu.Root>
  );
}

export function ActionsMenuItem({
  onSelect,
  danger = false,
  children,
}: {
  onSelect: () => void;
  /** Destructive (delete): red. */
  danger?: boolean;
  children: ReactNode;
}) {
  return (
    <DropdownMenu.Item className={clsx(ITEM, danger && "text-red-700 dark:text-red-400")} onSelect={onSelect}>
      {children}
    </DropdownMenu.Item>
  );
}

export function ActionsMenuSeparator() {
  return <DropdownMenu.Separator className="my-1 h-px bg-zinc-200 dark:bg-zinc-800" />;
}
