import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { TRPCClientError } from "@trpc/client";
import { useMemo } from "react";
import type { FileContent, FileEntry, ImportResult } from "#app/modules/projects/projects.types.ts";
import { useTRPC } from "#app/trpc/client.ts";

/**
 * Everything the project page asks the server, in one place: typed tRPC queries and mutations (the
 * `projects` router), plus the two zip endpoints, which are plain HTTP because their bodies are binary.
 */

export type { FileContent, FileEntry, ImportResult };

/** The error code of a failed call (tRPC's, e.g. "CONFLICT"), or null. */
export function errorCode(error: unknown): string | null {
  if (error instanceof TRPCClientError) return (error.data as { code?: string } | undefined)?.code ?? null;
  if (error instanceof ZipRequestError) return error.code;
  return null;
}

/** A message fit for the user. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error && error.message) return error.message;
  return "Something went wrong. Try again.";
}

/** The query keys and mutations of one project. */
export function useProjectApi(projectId: string) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  return useMemo(() => {
    const keys = {
      files: trpc.projects.listFiles.queryKey({ id: projectId }),
      file: (path: string) => trpc.projects.readFile.queryKey({ id: projectId, path }),
      anyFile: trpc.projects.readFile.pathKey(),
      versions: (path: string) => trpc.projects.listFileVersions.queryKey({ id: projectId, path }),
      anyVersions: trpc.projects.listFileVersions.pathKey(),
    };
    return {
      trpc,
      queryClient,
      keys,
      /** Refetch the tree (after creates, moves, deletes, imports). */
      refreshFiles: () => queryClient.invalidateQueries({ queryKey: keys.files }),
      /** The server's current content of a file, fetched fresh. */
      fetchCurrent: (path: string) =>
        queryClient.fetchQuery({
          ...trpc.projects.readFile.queryOptions({ id: projectId, path }),
          staleTime: 0,
        }),
    };
  }, [trpc, queryClient, projectId]);
}

/** The file list, seeded with what the page loader streamed. */
export function useFileList(projectId: string, initial: FileEntry[]) {
  const trpc = useTRPC();
  return useQuery({
    ...trpc.projects.listFiles.queryOptions({ id: projectId }),
    initialData: { files: initial },
    select: (data) => data.files,
  });
}

export function useFileContent(projectId: string, path: string | null) {
  const trpc = useTRPC();
  return useQuery({
    ...trpc.projects.readFile.queryOptions({ id: projectId, path: path ?? "" }),
    enabled: path !== null,
    // A file's content changes only through this tab's saves (which update the cache) or elsewhere
    // (which a save detects as a conflict): no background refetch that could shift the editor under you.
    staleTime: Number.POSITIVE_INFINITY,
    refetchOnWindowFocus: false,
  });
}

export function useFileVersions(projectId: string, path: string | null, enabled: boolean) {
  const trpc = useTRPC();
  return useQuery({
    ...trpc.projects.listFileVersions.queryOptions({ id: projectId, path: path ?? "" }),
    enabled: enabled && path !== null,
    select: (data) => data.versions,
  });
}

export function useFileVersionContent(projectId: string, path: string, version: number | null) {
  const trpc = useTRPC();
  return useQuery({
    ...trpc.projects.readFileVersion.queryOptions({ id: projectId, path, version: version ?? 1 }),
    enabled: version !== null,
    // A version never changes.
    staleTime: Number.POSITIVE_INFINITY,
  });
}

export function useFileMutations() {
  const trpc = useTRPC();
  return {
    save: useMutation(trpc.projects.saveFile.mutationOptions()),
    remove: useMutation(trpc.projects.deleteFile.mutationOptions()),
    move: useMutation(trpc.projects.moveFile.mutationOptions()),
    restore: useMutation(trpc.projects.restoreFileVersion.mutationOptions()),
  };
}

/** A failed zip upload or download, with the REST error's code. */
export class ZipRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * Send a zip to the import endpoint. Same-origin, so the session cookies authenticate it.
 * Answers what was created, updated, left unchanged and skipped (with reasons).
 */
export async function uploadZip(projectId: string, body: Blob): Promise<ImportResult> {
  let response: Response;
  try {
    response = await fetch(`/api/v1/projects/${projectId}/import`, {
      method: "POST",
      headers: { "Content-Type": "application/zip" },
      body,
      credentials: "same-origin",
    });
  } catch {
    throw new ZipRequestError("NETWORK", "The server could not be reached. Check your connection.", 0);
  }
  const payload: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (payload as { error?: { code?: string; message?: string } } | null)?.error;
    const fallback =
      response.status === 413
        ? "The archive is larger than the server accepts."
        : `The import failed (HTTP ${response.status}).`;
    throw new ZipRequestError(
      error?.code ?? `HTTP_${response.status}`,
      error?.message ?? fallback,
      response.status,
    );
  }
  const result = payload as Partial<ImportResult> | null;
  return {
    created: Number(result?.created ?? 0),
    updated: Number(result?.updated ?? 0),
    unchanged: Number(result?.unchanged ?? 0),
    skipped: Array.isArray(result?.skipped) ? result.skipped : [],
  };
}

/** The export endpoint's address (a plain link downloads it, cookies included). */
export function exportUrl(projectId: string): string {
  return `/api/v1/projects/${projectId}/export`;
}
