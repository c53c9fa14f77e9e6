// The node's messages: the inbox (live over the message stream), each conversation by peer, and a
// reply box. Received messages are acknowledged once shown.
import { useEffect, useMemo, useState } from "react";

import { Api, shortId } from "./api";

interface Message {
  id: string;
  from: string;
  to?: string;
  text: string;
  at: number;
  own: boolean;
  status?: string;
}

export function Messages({ api }: { api: Api }) {
  const [messages, setMessages] = useState<Message[]>([]);
  const [peer, setPeer] = useState("");
  const [draft, setDraft] = useState("");
  const [error, setError] = useState("");

  useEffect(() => {
    let socket: WebSocket | null = null;
    let closed = false;
    const open = () => {
      socket = api.stream((frame) => {
        if (frame.type !== "message" || typeof frame.id !== "string") return;
        const m: Message = {
          id: frame.id,
          from: String(frame.from),
          text: typeof frame.payload === "string" ? frame.payload : "(binary)",
          at: Number(frame.timestamp_ms),
          own: false,
        };
        setMessages((list) => (list.some((x) => x.id === m.id) ? list : [...list, m]));
        if (!frame.ephemeral) socket?.send(JSON.stringify({ type: "ack", id: m.id }));
      });
      socket.onclose = () => {
        if (!closed) setTimeout(open, 1000);
      };
    };
    open();
    return () => {
      closed = true;
      socket?.close();
    };
  }, [api]);

  const peers = useMemo(() => {
    const set = new Set<string>();
    for (const m of messages) set.add(m.own ? m.to! : m.from);
    return [...set];
  }, [messages]);
  const shown = messages.filter((m) => !peer || m.from === peer || m.to === peer);

  const send = async () => {
    try {
      const r = await api.post<{ id: string; status: string }>("/v1/messages", { to: peer, payload: draft });
      setMessages((list) => [...list, { id: r.id, from: api.peerId, to: peer, text: draft, at: Date.now(), own: true, status: r.status }]);
      setDraft("");
      setError("");
    } catch (e) {
      setError((e as Error).message);
    }
  };

  return (
    <div className="messages">
      <aside>
        <h2>Conversations</h2>
        <ul>
          {peers.map((p) => (
            <li key={p} className={p === peer ? "selected" : ""} onClick={() => setPeer(p)} title={p}>
              {shortId(p)}
            </li>
          ))}
        </ul>
        <input value={peer} onChange={(e) => setPeer(e.target.value)} placeholder="PeerId to write to" />
      </aside>
      <main>
        <ol className="chat" data-testid="chat">
          {shown.map((m) => (
            <li key={m.id} className={m.own ? "own" : ""}>
              <span className="who">{m.own ? "me" : shortId(m.from)}</span> {m.text}
            </li>
          ))}
        </ol>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void send();
          }}
        >
          <input value={draft} onChange={(e) => setDraft(e.target.value)} placeholder="message" data-testid="draft" />
          <button disabled={!peer || !draft}>Send</button>
        </form>
        {error && <div className="error">{error}</div>}
      </main>
    </div>
  );
}
