import { useCallback, useEffect, useRef, useState } from "react";
import { errorText } from "../lib/api";

/** Load data now, and again every `intervalMs` while `active(data)` says something is in progress. */
export function usePolling<T>(load: () => Promise<T>, active: (data: T | null) => boolean, intervalMs = 1500) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const loadRef = useRef(load);
  loadRef.current = load;

  const refresh = useCallback(async () => {
    try {
      setData(await loadRef.current());
      setError(null);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setLoaded(true);
    }
  }, []);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  const polling = active(data);
  useEffect(() => {
    if (!polling) return;
    const timer = window.setInterval(() => void refresh(), intervalMs);
    return () => window.clearInterval(timer);
  }, [polling, refresh, intervalMs]);

  return { data, error, loaded, refresh };
}
