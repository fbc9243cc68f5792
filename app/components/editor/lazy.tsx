import { Component, lazy, type ReactNode, Suspense, useEffect, useState } from "react";
import type { CodeDiffProps, CodeEditorProps } from "./code-editor.client.tsx";

/**
 * Monaco, loaded on demand. The import() below is the only reference to the editor module, so Vite puts
 * Monaco in its own chunk that is fetched after hydration, when an editor is first shown; the server
 * renders the fallback.
 */
const loadEditorModule = () => import("./code-editor.client.tsx");
const LazyCode = lazy(() => loadEditorModule().then((m) => ({ default: m.CodeEditor })));
const LazyDiff = lazy(() => loadEditorModule().then((m) => ({ default: m.CodeDiff })));

/** False on the server and during hydration, true once the page is interactive. */
export function useHydrated(): boolean {
  const [hydrated, setHydrated] = useState(false);
  useEffect(() => setHydrated(true), []);
  return hydrated;
}

/** Whether the app is in dark mode (the `dark` class on <html>), following changes as they happen. */
export function useDarkMode(): boolean {
  const [dark, setDark] = useState(false);
  useEffect(() => {
    const html = document.documentElement;
    const read = () => setDark(html.classList.contains("dark"));
    read();
    const observer = new MutationObserver(read);
    observer.observe(html, { attributes: true, attributeFilter: ["class"] });
    return () => observer.disconnect();
  }, []);
  return dark;
}

function EditorFallback({ label = "Loading the editor…" }: { label?: string }) {
  return (
    <div role="status" className="flex h-full items-center justify-center text-sm text-zinc-500">
      <span className="animate-pulse">{label}</span>
    </div>
  );
}

class EditorErrorBoundary extends Component<{ children: ReactNode }, { failed: boolean }> {
  override state = { failed: false };
  static getDerivedStateFromError() {
    return { failed: true };
  }
  override render() {
    if (!this.state.failed) return this.props.children;
    return (
      <div role="alert" className="flex h-full flex-col items-center justify-center gap-2 p-6 text-center">
        <p className="text-sm font-medium">The editor could not be loaded.</p>
        <p className="text-sm text-zinc-600 dark:text-zinc-400">
          Check your connection to the server, then reload the page. Your unsaved edits stay in this tab.
        </p>
        <button
          type="button"
          onClick={() => this.setState({ failed: false })}
          className="mt-2 rounded-md border border-zinc-300 px-3 py-1.5 text-sm dark:border-zinc-700"
        >
          Try again
        </button>
      </div>
    );
  }
}

/** The Monaco editor, client-only and lazily loaded. */
export function LazyCodeEditor(props: CodeEditorProps) {
  const hydrated = useHydrated();
  if (!hydrated) return <EditorFallback />;
  return (
    <EditorErrorBoundary>
      <Suspense fallback={<EditorFallback />}>
        <LazyCode {...props} />
      </Suspense>
    </EditorErrorBoundary>
  );
}

/** The Monaco diff editor, client-only and lazily loaded. */
export function LazyCodeDiff(props: CodeDiffProps) {
  const hydrated = useHydrated();
  if (!hydrated) return <EditorFallback label="Loading the diff…" />;
  return (
    <EditorErrorBoundary>
      <Suspense fallback={<EditorFallback label="Loading the diff…" />}>
        <LazyDiff {...props} />
      </Suspense>
    </EditorErrorBoundary>
  );
}
