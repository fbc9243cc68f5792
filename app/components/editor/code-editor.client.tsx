import Editor, { type OnMount } from "@monaco-editor/react";
import type * as Monaco from "monaco-editor";
import { useEffect, useMemo, useRef, useState } from "react";
import { setupMonaco } from "./setup-monaco.client.ts";

/**
 * The Monaco pieces of the app. Browser-only (this file never reaches the server bundle) and loaded
 * lazily through ./lazy.tsx, so Monaco's ~1 MB stays out of every page's first load.
 */

export type CodeEditorProps = {
  /** Scopes the Monaco model (undo history, view state) to one project. */
  modelScope: string;
  /** The file's project path; each path keeps its own model. */
  path: string;
  /**
   * The text to show. Read when a file is opened and whenever `revision` changes, never while typing:
   * the editor owns its text between those moments, so keystrokes cannot race a re-render (a controlled
   * value that lags one keystroke behind would overwrite it).
   */
  value: string;
  /** Bump to replace the editor's text with `value` (discard, restore, take theirs, reload). */
  revision: number;
  language: string;
  dark: boolean;
  readOnly?: boolean;
  onChange?: (value: string) => void;
  /** Ctrl/Cmd-S inside the editor. */
  onSave?: () => void;
  ariaLabel?: string;
};

let tsDefaultsSet = false;

/** Files are edited one at a time, without the rest of the project loaded: unresolved imports are not errors. */
function quietLanguageServices(monaco: typeof Monaco) {
  if (tsDefaultsSet) return;
  tsDefaultsSet = true;
  const options = { noSemanticValidation: true, noSyntaxValidation: false };
  monaco.typescript.typescriptDefaults.setDiagnosticsOptions(options);
  monaco.typescript.javascriptDefaults.setDiagnosticsOptions(options);
}

function modelUri(monaco: typeof Monaco, scope: string, path: string): string {
  // Uri.from encodes `#`, `?`, spaces and unicode so every project path maps to exactly one model.
  return monaco.Uri.from({ scheme: "file", path: `/${scope}/${path}` }).toString();
}

export function CodeEditor({
  modelScope,
  path,
  value,
  revision,
  language,
  dark,
  readOnly = false,
  onChange,
  onSave,
  ariaLabel,
}: CodeEditorProps) {
  const monaco = setupMonaco();
  quietLanguageServices(monaco);
  const saveRef = useRef(onSave);
  saveRef.current = onSave;
  const options = useMemo<Monaco.editor.IStandaloneEditorConstructionOptions>(
    () => ({
      readOnly,
      minimap: { enabled: false },
      fontSize: 13,
      scrollBeyondLastLine: false,
      tabSize: 2,
      fixedOverflowWidgets: true,
      ariaLabel: ariaLabel ?? `Editor: ${path}`,
    }),
    [readOnly, ariaLabel, path],
  );
  const valueRef = useRef(value);
  valueRef.current = value;
  const [editor, setEditor] = useState<Monaco.editor.IStandaloneCodeEditor | null>(null);
  const onMount: OnMount = (mounted, m) => {
    mounted.addCommand(m.KeyMod.CtrlCmd | m.KeyCode.KeyS, () => saveRef.current?.());
    setEditor(mounted);
  };
  const uri = modelUri(monaco, modelScope, path);
  // On open (a model may survive from an earlier visit with older text) and on each revision: make the
  // model hold `value`, as an undoable edit.
  // biome-ignore lint/correctness/useExhaustiveDependencies: `revision` is the trigger; `value` is read through a ref on purpose
  useEffect(() => {
    const model = editor?.getModel();
    if (!editor || !model || model.uri.toString() !== monaco.Uri.parse(uri).toString()) return;
    const next = valueRef.current;
    if (model.getValue() === next) return;
    editor.executeEdits("sync", [{ range: model.getFullModelRange(), text: next, forceMoveMarkers: true }]);
    editor.pushUndoStop();
  }, [editor, monaco, uri, revision]);
  return (
    <Editor
      path={uri}
      defaultValue={value}
      language={language}
      theme={dark ? "vs-dark" : "vs"}
      options={options}
      onMount={onMount}
      onChange={(next) => onChange?.(next ?? "")}
      loading={<EditorLoading />}
      className="h-full"
    />
  );
}

export type CodeDiffProps = {
  original: string;
  modified: string;
  language: string;
  dark: boolean;
  /** Side by side when there is room, inline otherwise. */
  sideBySide?: boolean;
};

/**
 * A read-only Monaco diff editor. Built on the monaco API directly rather than @monaco-editor/react's
 * DiffEditor, which disposes its models before the widget and logs "TextModel got disposed before
 * DiffEditorWidget model got reset" on every unmount.
 */
export function CodeDiff({ original, modified, language, dark, sideBySide = true }: CodeDiffProps) {
  const monaco = setupMonaco();
  const container = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!container.current) return;
    const editor = monaco.editor.createDiffEditor(container.current, {
      readOnly: true,
      originalEditable: false,
      automaticLayout: true,
      renderSideBySide: sideBySide,
      // Side by side down to a narrow pane (the default switches to inline below 900 px).
      renderSideBySideInlineBreakpoint: 520,
      useInlineViewWhenSpaceIsLimited: true,
      minimap: { enabled: false },
      fontSize: 13,
      scrollBeyondLastLine: false,
    });
    const left = monaco.editor.createModel(original, language);
    const right = monaco.editor.createModel(modified, language);
    editor.setModel({ original: left, modified: right });
    return () => {
      editor.dispose();
      left.dispose();
      right.dispose();
    };
  }, [monaco, original, modified, language, sideBySide]);
  useEffect(() => {
    monaco.editor.setTheme(dark ? "vs-dark" : "vs");
  }, [monaco, dark]);
  return <div ref={container} className="h-full w-full" />;
}

function EditorLoading() {
  return (
    <div role="status" className="text-sm text-zinc-500">
      Starting the editor…
    </div>
  );
}
