// Polling: `load` runs now and every `intervalMs` while the component is mounted; the last value
// (or error) is kept.
import { useEffect, useRef, useState } from "react";

export function usePoll<T>(load: () => Promise<T>, intervalMs: number): { value: T | null; error: string } {
  const [value, setValue] = useState<T | null>(null);
  const [error, setError] = useState("");
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let stopped = false;
    const tick = async () => {
      try {
        const v = await loadRef.current();
        if (!stopped) {
          setValue(v);
          setError("");
        }
      } catch (e) {
        if (!stopped) setError(String((e as Error).message ?? e));
      }
    };
    void tick();
    const timer = setInterval(tick, intervalMs);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [intervalMs]);
  return { value, error };
}
