// The node's HTTP API as the web app uses it: same origin, the session cookie (HttpOnly: the app
// never sees it, nor the bearer token) and the session's CSRF token on every state-changing call.
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class Api {
  private constructor(
    readonly peerId: string,
    private readonly csrf: string,
  ) {}

  // The session this page was logged in with; ApiError 401 when there is none.
  static async connect(): Promise<Api> {
    const res = await fetch("/v1/app/session", { credentials: "same-origin" });
    if (!res.ok) throw new ApiError(res.status, "not logged in");
    const body = (await res.json()) as { peer_id: string; csrf_token?: string };
    return new Api(body.peer_id, body.csrf_token ?? "");
  }

  async get<T>(path: string): Promise<T> {
    return this.call<T>("GET", path);
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>("POST", path, body);
  }

  // The Prometheus text of /metrics as {"name{labels}": value}.
  async metrics(): Promise<Map<string, number>> {
    const res = await fetch("/metrics", { credentials: "same-origin" });
    if (!res.ok) throw new ApiError(res.status, "metrics: " + res.status);
    return parseMetrics(await res.text());
  }

  // The message stream (received messages and file events), over the same cookie.
  stream(onFrame: (frame: Record<string, unknown>) => void): WebSocket {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(scheme + "//" + location.host + "/v1/p2p/messages/stream");
    socket.onmessage = (event) => {
      try {
        onFrame(JSON.parse(String(event.data)) as Record<string, unknown>);
      } catch {
        /* a frame that is not JSON is not ours to show */
      }
    };
    return socket;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { "X-CSRF-Token": this.csrf };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    if (!res.ok) {
      const message = (parsed as { error?: string } | null)?.error ?? res.statusText;
      throw new ApiError(res.status, message);
    }
    return parsed as T;
  }
}

export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    if (space < 0) continue;
    const value = Number(line.slice(space + 1));
    if (!Number.isNaN(value)) out.set(line.slice(0, space), value);
  }
  return out;
}

// The sum of every series of `name` (all label sets), optionally only those whose labels contain `match`.
export function metricSum(metrics: Map<string, number>, name: string, match = ""): number {
  let sum = 0;
  for (const [key, value] of metrics) {
    const brace = key.indexOf("{");
    const base = brace < 0 ? key : key.slice(0, brace);
    if (base === name && (!match || key.includes(match))) sum += value;
  }
  return sum;
}

export function shortId(peerId: string): string {
  return peerId.length > 16 ? peerId.slice(0, 8) + "…" + peerId.slice(-6) : peerId;
}

export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return (u === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + units[u];
}
