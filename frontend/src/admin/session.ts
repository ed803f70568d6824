// The admin token lives in sessionStorage: it is gone when the tab closes.
import { apiJson, ApiError, type RequestOptions } from "../lib/api";

const KEY = "docstune_admin_token";

export const adminSession = {
  get: (): string | null => sessionStorage.getItem(KEY),
  set: (token: string) => sessionStorage.setItem(KEY, token),
  clear: () => sessionStorage.removeItem(KEY),
};

export type AdminCall = <T>(path: string, options?: Omit<RequestOptions, "token">) => Promise<T>;

export function adminCaller(token: string, onUnauthorised: () => void): AdminCall {
  return async <T,>(path: string, options: Omit<RequestOptions, "token"> = {}) => {
    try {
      return await apiJson<T>(path, { ...options, token });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) onUnauthorised();
      throw err;
    }
  };
}

/** Check a token against an admin route; resolves when it is accepted. */
export async function checkToken(token: string): Promise<void> {
  await apiJson("/api/sources", { token });
}
