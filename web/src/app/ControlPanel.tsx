// The control panel: this node's identity, transports (live state and capabilities), connections
// and routes, the outbox by state and priority, live charts from /metrics, the failover and
// connectivity timeline, power readings, BitChat broadcasts and a send form.
import { useEffect, useRef, useState } from "react";

import { Api, bytes, metricSum, shortId } from "./api";
import { Chart } from "./Chart";
import { usePoll } from "./hooks";

interface Transport {
  name: string;
  type: string;
  available: boolean;
  sessions: number;
  failovers_to?: number;
  capabilities: { role: string; typical_latency_ms: number; mtu: number; bandwidth_bps: number };
  webrtc?: { signaling: { signed_in: boolean; server: string } };
}
interface Connection {
  peer_id: string;
  transport: string;
  direction: string;
  age_ms: number;
  bytes_in: number;
  bytes_out: number;
  remote_address: string;
}
interface Route {
  destination: string;
  next_hop: string;
  transport: string;
  kind: string;
  hops: number;
}
interface Power {
  effective: { battery: number | null; charging: boolean; temperature_c: number | null };
  policy: { battery_level: string; thermal_level: string; allowed_transports: string; reasons: string[] };
}
interface Broadcast {
  seq: number;
  via: string;
  channel: string;
  text: string;
  nickname: string;
  own: boolean;
  received_ms: number;
}
interface TimelineEvent {
  at: number;
  kind: "failover" | "transport" | "session" | "connectivity";
  text: string;
}

const HISTORY = 240; // two minutes of half-second samples

export function ControlPanel({ api }: { api: Api }) {
  const transports = usePoll(() => api.get<{ transports: Transport[] }>("/v1/p2p/transports"), 500);
  const connections = usePoll(() => api.get<{ connections: Connection[] }>("/v1/p2p/connections"), 1000);
  const routes = usePoll(() => api.get<{ routes: Route[] }>("/v1/p2p/routes"), 2000);
  const power = usePoll(() => api.get<Power>("/v1/p2p/power"), 2000);
  const broadcasts = usePoll(() => api.get<{ broadcasts: Broadcast[] }>("/v1/p2p/broadcasts?limit=20"), 2000);
  const connectivity = usePoll(
    () => api.get<{ online: boolean; history: { online: boolean; at_ms: number; detail: string }[] }>("/v1/p2p/connectivity"),
    2000,
  );
  const [series, setSeries] = useState({ t: [] as number[], rate: [] as number[], latency: [] as number[], depth: [] as number[] });
  const [outbox, setOutbox] = useState<Record<string, number>>({});
  const [timeline, setTimeline] = useState<TimelineEvent[]>([]);
  const previous = useRef<{ sent: number; received: number; latencySum: number; latencyCount: number; at: number } | null>(null);
  const failovers = useRef<Map<string, number> | null>(null);
  const available = useRef<Map<string, boolean>>(new Map());
  const sessions = useRef<Set<string> | null>(null);

  const addEvents = (events: TimelineEvent[]) => {
    if (events.length) setTimeline((t) => [...events, ...t].slice(0, 200));
  };

  // Metrics every half second: rates from counter deltas, the mean send-to-ack latency, queue depth,
  // and failovers (p2p_failovers_total{from,to}) as timeline events.
  usePoll(async () => {
    const m = await api.metrics();
    const now = Date.now();
    const sent = metricSum(m, "p2p_messages_sent_total");
    const received = metricSum(m, "p2p_messages_received_total");
    const latencySum = metricSum(m, "p2p_message_latency_seconds_sum");
    const latencyCount = metricSum(m, "p2p_message_latency_seconds_count");
    const depth = metricSum(m, "p2p_outbox_depth");
    const p = previous.current;
    previous.current = { sent, received, latencySum, latencyCount, at: now };
    setOutbox({
      queued: metricSum(m, "p2p_outbox_depth", 'state="queued"'),
      sent: metricSum(m, "p2p_outbox_depth", 'state="sent"'),
      emergency: metricSum(m, "p2p_queue_depth", 'priority="emergency"'),
      high: metricSum(m, "p2p_queue_depth", 'priority="high"'),
      normal: metricSum(m, "p2p_queue_depth", 'priority="normal"'),
      low: metricSum(m, "p2p_queue_depth", 'priority="low"'),
    });
    const seen = new Map<string, number>();
    for (const [key, value] of m) if (key.startsWith("p2p_failovers_total{")) seen.set(key, value);
    if (failovers.current) {
      const events: TimelineEvent[] = [];
      for (const [key, value] of seen) {
        const before = failovers.current.get(key) ?? 0;
        if (value > before) {
          const from = /from="([^"]*)"/.exec(key)?.[1] ?? "?";
          const to = /to="([^"]*)"/.exec(key)?.[1] ?? "?";
          events.push({ at: now, kind: "failover", text: `failover ${from} → ${to} (${value - before} message${value - before > 1 ? "s" : ""})` });
        }
      }
      addEvents(events);
    }
    failovers.current = seen;
    if (!p) return;
    const seconds = Math.max(0.001, (now - p.at) / 1000);
    const rate = (sent - p.sent + received - p.received) / seconds;
    const acks = latencyCount - p.latencyCount;
    const latency = acks > 0 ? ((latencySum - p.latencySum) / acks) * 1000 : 0;
    setSeries((s) => ({
      t: [...s.t, now / 1000].slice(-HISTORY),
      rate: [...s.rate, rate].slice(-HISTORY),
      latency: [...s.latency, latency].slice(-HISTORY),
      depth: [...s.depth, depth].slice(-HISTORY),
    }));
  }, 500);

  // Transport availability and sessions, as they change.
  useEffect(() => {
    const list = transports.value?.transports;
    if (!list) return;
    const events: TimelineEvent[] = [];
    for (const t of list) {
      const before = available.current.get(t.name);
      if (before !== undefined && before !== t.available)
        events.push({ at: Date.now(), kind: "transport", text: `${t.name} ${t.available ? "available again" : "unavailable"}` });
      available.current.set(t.name, t.available);
    }
    addEvents(events);
  }, [transports.value]);
  useEffect(() => {
    const list = connections.value?.connections;
    if (!list) return;
    const now = new Set(list.map((c) => c.transport + " " + c.peer_id));
    if (sessions.current) {
      const events: TimelineEvent[] = [];
      for (const key of now)
        if (!sessions.current.has(key)) {
          const [transport, peer] = key.split(" ");
          events.push({ at: Date.now(), kind: "session", text: `session up: ${shortId(peer)} over ${transport}` });
        }
      for (const key of sessions.current)
        if (!now.has(key)) {
          const [transport, peer] = key.split(" ");
          events.push({ at: Date.now(), kind: "session", text: `session down: ${shortId(peer)} over ${transport}` });
        }
      addEvents(events);
    }
    sessions.current = now;
  }, [connections.value]);

  const history = connectivity.value?.history ?? [];
  return (
    <div className="panel">
      <section className="card identity">
        <h2>This node</h2>
        <div className="mono" data-testid="peer-id">{api.peerId}</div>
        <div>
          {connectivity.value ? (connectivity.value.online ? "online" : "offline") : "…"} · {connections.value?.connections.length ?? 0} sessions
        </div>
      </section>

      <section className="card wide">
        <h2>Transports</h2>
        <table data-testid="transports">
          <thead>
            <tr><th>name</th><th>type</th><th>state</th><th>sessions</th><th>role</th><th>latency</th><th>MTU</th><th>failovers to</th></tr>
          </thead>
          <tbody>
            {(transports.value?.transports ?? []).map((t) => (
              <tr key={t.name} data-transport={t.name}>
                <td>{t.name}</td>
                <td>{t.type}{t.webrtc ? (t.webrtc.signaling.signed_in ? " (signed in)" : " (signing in…)") : ""}</td>
                <td className={t.available ? "ok" : "bad"} data-testid={"state-" + t.name}>{t.available ? "available" : "unavailable"}</td>
                <td>{t.sessions}</td>
                <td>{t.capabilities.role}</td>
                <td>{t.capabilities.typical_latency_ms} ms</td>
                <td>{bytes(t.capabilities.mtu)}</td>
                <td>{t.failovers_to ?? 0}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {transports.error && <div className="error">{transports.error}</div>}
      </section>

      <section className="card">
        <h2>Outbox</h2>
        <table data-testid="outbox">
          <tbody>
            {Object.entries(outbox).map(([k, v]) => (
              <tr key={k}><td>{k}</td><td>{v}</td></tr>
            ))}
          </tbody>
        </table>
      </section>

      <section className="card charts">
        <h2>Live</h2>
        <Chart title="messages / s" unit="msg/s" times={series.t} values={series.rate} color="#3b82f6" />
        <Chart title="send → ack latency (ms)" unit="ms" times={series.t} values={series.latency} color="#f59e0b" />
        <Chart title="outbox depth" unit="messages" times={series.t} values={series.depth} color="#10b981" />
      </section>

      <section className="card wide">
        <h2>Connections</h2>
        <table data-testid="connections">
          <thead>
            <tr><th>peer</th><th>transport</th><th>direction</th><th>address</th><th>age</th><th>in</th><th>out</th></tr>
          </thead>
          <tbody>
            {(connections.value?.connections ?? []).map((c) => (
              <tr key={c.transport + c.peer_id}>
                <td className="mono" title={c.peer_id}>{shortId(c.peer_id)}</td>
                <td>{c.transport}</td>
                <td>{c.direction}</td>
                <td className="mono">{c.remote_address}</td>
                <td>{(c.age_ms / 1000).toFixed(0)} s</td>
                <td>{bytes(c.bytes_in)}</td>
                <td>{bytes(c.bytes_out)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <section className="card">
        <h2>Routes</h2>
        <table>
          <tbody>
            {(routes.value?.routes ?? []).slice(0, 20).map((r, i) => (
              <tr key={i}>
                <td className="mono" title={r.destination}>{shortId(r.destination)}</td>
                <td>{r.kind}</td>
                <td>{r.transport}</td>
                <td>{r.hops} hop{r.hops === 1 ? "" : "s"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <section className="card">
        <h2>Timeline</h2>
        <ol className="timeline" data-testid="timeline">
          {timeline.map((e, i) => (
            <li key={i} className={e.kind}>
              <time>{new Date(e.at).toLocaleTimeString()}</time> {e.text}
            </li>
          ))}
          {history.slice(-5).reverse().map((h, i) => (
            <li key={"c" + i} className="connectivity">
              <time>{new Date(h.at_ms).toLocaleTimeString()}</time> {h.online ? "online" : "offline"}: {h.detail}
            </li>
          ))}
        </ol>
      </section>

      <section className="card">
        <h2>Power</h2>
        {power.value && (
          <div data-testid="power">
            <div>battery {power.value.effective.battery === null ? "—" : Math.round(power.value.effective.battery * 100) + " %"}{power.value.effective.charging ? " (charging)" : ""}</div>
            <div>temperature {power.value.effective.temperature_c ?? "—"} °C</div>
            <div>levels: battery {power.value.policy.battery_level}, thermal {power.value.policy.thermal_level}</div>
            <div>allowed: {power.value.policy.allowed_transports.split("+").join(", ")}</div>
          </div>
        )}
      </section>

      <Broadcasts api={api} list={broadcasts.value?.broadcasts ?? []} />
      <SendForm api={api} />
    </div>
  );
}

function Broadcasts({ api, list }: { api: Api; list: Broadcast[] }) {
  const [text, setText] = useState("");
  const [status, setStatus] = useState("");
  return (
    <section className="card">
      <h2>Broadcasts</h2>
      <ul className="broadcasts">
        {list.slice().reverse().map((b) => (
          <li key={b.seq}>
            <b>{b.own ? "me" : b.nickname || "?"}</b>{b.channel ? " #" + b.channel : ""}: {b.text}
          </li>
        ))}
      </ul>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          api
            .post<{ sent_on: string[] }>("/v1/p2p/broadcast", { text })
            .then((r) => setStatus("sent on " + r.sent_on.join(", ")))
            .catch((err: Error) => setStatus(err.message));
          setText("");
        }}
      >
        <input value={text} onChange={(e) => setText(e.target.value)} placeholder="to everyone on the mesh" />
        <button disabled={!text}>Broadcast</button>
      </form>
      {status && <div className="status">{status}</div>}
    </section>
  );
}

function SendForm({ api }: { api: Api }) {
  const [to, setTo] = useState("");
  const [payload, setPayload] = useState("");
  const [priority, setPriority] = useState("normal");
  const [status, setStatus] = useState("");
  return (
    <section className="card">
      <h2>Send a message</h2>
      <form
        data-testid="send-form"
        onSubmit={(e) => {
          e.preventDefault();
          api
            .post<{ id: string; status: string }>("/v1/messages", { to, payload, priority })
            .then((r) => setStatus(`${r.status}: ${r.id}`))
            .catch((err: Error) => setStatus("error: " + err.message));
        }}
      >
        <input value={to} onChange={(e) => setTo(e.target.value)} placeholder="PeerId (12D3KooW…)" name="to" />
        <textarea value={payload} onChange={(e) => setPayload(e.target.value)} placeholder="message" name="payload" />
        <select value={priority} onChange={(e) => setPriority(e.target.value)} name="priority">
          <option>emergency</option>
          <option>high</option>
          <option>normal</option>
          <option>low</option>
        </select>
        <button disabled={!to || !payload}>Send</button>
      </form>
      {status && <div className="status" data-testid="send-status">{status}</div>}
    </section>
  );
}
