import { loader } from "@monaco-editor/react";
import * as monaco from "monaco-editor";
import EditorWorker from "monaco-editor/editor/editor.worker?worker";
import CssWorker from "monaco-editor/language/css/css.worker?worker";
import HtmlWorker from "monaco-editor/language/html/html.worker?worker";
import JsonWorker from "monaco-editor/language/json/json.worker?worker";
import TsWorker from "monaco-editor/language/typescript/ts.worker?worker";

let configured = false;

/**
 * Point @monaco-editor/react at the locally bundled `monaco-editor` and its workers, so the editor never
 * fetches anything from a CDN. It is a function the editor components call (not a side-effect import):
 * with `"sideEffects": false` a bare import would be dropped and the loader would silently fall back to
 * jsDelivr. Idempotent.
 */
export function setupMonaco(): typeof monaco {
  if (configured) return monaco;
  configured = true;
  // Monaco asks for a worker by language label; anything else gets the generic editor worker.
  globalThis.MonacoEnvironment = {
    getWorker(_workerId: string, label: string) {
      switch (label) {
        case "json":
          return new JsonWorker();
        case "css":
        case "scss":
        case "less":
          return new CssWorker();
        case "html":
        case "handlebars":
        case "razor":
          return new HtmlWorker();
        case "typescript":
        case "javascript":
          return new TsWorker();
        default:
          return new EditorWorker();
      }
    },
  };
  loader.config({ monaco });
  return monaco;
}
