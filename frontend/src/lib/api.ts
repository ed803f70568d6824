// Small fetch helpers for the DocsTune API: same origin, JSON errors as {"error": "..."}.
import type { Job, NewSyncSource, Schedule, SyncSource, SyncSourceDeleted, SyncStarted } from "./types";

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export async function errorFrom(response: Response): Promise<ApiError> {
  let message = `${response.status} ${response.statusText}`.trim();
  try {
    const body = await response.json();
    if (body && typeof body.error === "string") message = body.error;
  } catch {
    // not JSON: keep the status line
  }
  if (response.status === 404 && message.startsWith("404")) {
    message = "404: this server does not have that route yet.";
  }
  return new ApiError(message, response.status);
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  token?: string | null;
  signal?: AbortSignal;
}

export function headersFor(token?: string | null, json = false): Record<string, string> {
  const headers: Record<string, string> = {};
  if (json) headers["Content-Type"] = "application/json";
  if (token) headers["Authorization"] = `Bearer ${token}`;
  return headers;
}

/** Fetch JSON; a non-2xx answer throws an ApiError carrying the API's own message. */
export async function apiJson<T>(path: string, options: RequestOptions = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method: options.method ?? (options.body === undefined ? "GET" : "POST"),
      headers: headersFor(options.token, options.body !== undefined),
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      credentials: "same-origin",
      signal: options.signal,
    });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiError("Cannot reach the server; check that it is running and try again.", 0);
  }
  if (!response.ok) throw await errorFrom(response);
  return (await response.json()) as T;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A JSON call with the caller's credentials already in it (the admin console's `AdminCall`). */
export type JsonCall = <T>(path: string, options?: Omit<RequestOptions, "token">) => Promise<T>;

/** The admin routes of sync sources (folders, uploaded sets, web roots, git repositories). */
export function syncSourcesApi(call: JsonCall) {
  const one = (id: string) => `/api/admin/sources/${encodeURIComponent(id)}`;
  return {
    list: () => call<SyncSource[]>("/api/admin/sources"),
    /** Adds a source and starts its first sync (202). */
    create: (body: NewSyncSource) => call<SyncStarted>("/api/admin/sources", { body }),
    /** Starts a sync now; 409 when one is already running. */
    sync: (id: string) => call<SyncStarted>(`${one(id)}/sync`, { method: "POST", body: {} }),
    update: (id: string, change: { schedule?: Schedule; name?: string }) => call<SyncSource>(one(id), { method: "PATCH", body: change }),
    /** Removes the source with its documents, chunks and vectors. */
    remove: (id: string) => call<SyncSourceDeleted>(one(id), { method: "DELETE" }),
    job: (jobId: string) => call<Job>(`/api/jobs/${encodeURIComponent(jobId)}`),
  };
}

/** "a, b\nc" → ["a", "b", "c"]: globs typed comma- or newline-separated. */
export function splitList(text: string): string[] {
  return text
    .split(/[,\n]/)
    .map((part) => part.trim())
    .filter(Boolean);
}
