// A tiny history router: the page's state lives in the URL (/c/<id>, /admin/<page>).
import { useEffect, useState } from "react";

const listeners = new Set<() => void>();

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (path === window.location.pathname) return;
  if (options.replace) window.history.replaceState(null, "", path);
  else window.history.pushState(null, "", path);
  listeners.forEach((listener) => listener());
}

export function usePath(): string {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const update = () => setPath(window.location.pathname);
    listeners.add(update);
    window.addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return path;
}

export type Route =
  | { page: "chat"; conversationId: string | null }
  | { page: "admin"; section: AdminSection };

export const ADMIN_SECTIONS = ["documents", "feedback", "models", "evaluate", "workbench", "jobs", "api-keys"] as const;
export type AdminSection = (typeof ADMIN_SECTIONS)[number];

export function parseRoute(path: string): Route {
  const chat = path.match(/^\/c\/([^/]+)\/?$/);
  if (chat) return { page: "chat", conversationId: decodeURIComponent(chat[1]) };
  const admin = path.match(/^\/admin(?:\/([^/]*))?\/?$/);
  if (admin) {
    const section = (ADMIN_SECTIONS as readonly string[]).includes(admin[1] ?? "")
      ? (admin[1] as AdminSection)
      : "documents";
    return { page: "admin", section };
  }
  return { page: "chat", conversationId: null };
}
