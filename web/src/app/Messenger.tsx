// The messenger: join a room through the signaling server, see its members (role, services,
// connection state, transport and round-trip time), chat with everyone or one member, and send a
// file by dropping it on the chat (progress bars both ways; received files become download links).
import { useEffect, useReducer, useRef, useState } from "react";

import { Api, bytes, shortId } from "./api";
import { browserIdentity, Room } from "./room";

export function Messenger({ api }: { api: Api }) {
  const [room, setRoom] = useState<Room | null>(null);
  const [, refresh] = useReducer((n: number) => n + 1, 0);
  const [signal, setSignal] = useState("");
  const [roomName, setRoomName] = useState("hyphae");
  const [name, setName] = useState("");
  const [role, setRole] = useState("member");
  const [error, setError] = useState("");
  const [target, setTarget] = useState("");
  const [draft, setDraft] = useState("");
  const [dragging, setDragging] = useState(false);
  const identity = useRef(browserIdentity());

  // The node's own signaling server, when it has a WebRTC transport.
  useEffect(() => {
    api
      .get<{ transports: { type: string; webrtc?: { signaling: { server: string } } }[] }>("/v1/p2p/transports")
      .then((r) => {
        const rtc = r.transports.find((t) => t.type === "webrtc");
        if (rtc?.webrtc) setSignal((s) => s || "ws://" + rtc.webrtc!.signaling.server);
      })
      .catch(() => {});
  }, [api]);
  useEffect(() => () => room?.leave(), [room]);

  if (!room)
    return (
      <div className="messenger join">
        <h2>Join a room</h2>
        <div className="mono">you are {identity.current.peerIdText}</div>
        <form
          data-testid="join-form"
          onSubmit={(e) => {
            e.preventDefault();
            setError("");
            Room.join(signal, identity.current, roomName, { name: name || shortId(identity.current.peerIdText), role })
              .then((r) => {
                r.onChange = refresh;
                setRoom(r);
              })
              .catch((err: Error) => setError(err.message));
          }}
        >
          <input name="signal" value={signal} onChange={(e) => setSignal(e.target.value)} placeholder="ws://signal-server:8471" />
          <input name="room" value={roomName} onChange={(e) => setRoomName(e.target.value)} placeholder="room" />
          <input name="name" value={name} onChange={(e) => setName(e.target.value)} placeholder="your name" />
          <select name="role" value={role} onChange={(e) => setRole(e.target.value)}>
            <option>member</option>
            <option>moderator</option>
            <option>observer</option>
          </select>
          <button disabled={!signal || !roomName}>Join</button>
        </form>
        {error && <div className="error">{error}</div>}
      </div>
    );

  const members = [...room.members.values()];
  const nameOf = (id: string) => (id === room.self ? "me" : room.members.get(id)?.name || shortId(id));
  const drop = (files: FileList | null) => {
    if (!files) return;
    const to = target ? [target] : members.filter((m) => m.state === "connected").map((m) => m.deviceId);
    for (const file of Array.from(files))
      for (const t of to) room.sendFile(t, file).catch((err: Error) => setError(err.message));
  };
  return (
    <div className="messenger">
      <aside>
        <h2>
          Room {room.name} <button onClick={() => { room.leave(); setRoom(null); }}>Leave</button>
        </h2>
        <div className="mono" data-testid="self-id" data-peer={room.self} title={room.self}>
          you are {shortId(room.self)}
        </div>
        <table data-testid="members">
          <thead>
            <tr><th>member</th><th>role</th><th>state</th><th>RTT</th></tr>
          </thead>
          <tbody>
            {members.map((m) => (
              <tr
                key={m.deviceId}
                data-member={m.name}
                className={m.deviceId === target ? "selected" : ""}
                onClick={() => setTarget(m.deviceId === target ? "" : m.deviceId)}
                title={m.deviceId + " · " + m.services.join(", ") + (m.error ? " · " + m.error : "")}
              >
                <td>{m.name || shortId(m.deviceId)}{m.kind === "node" ? " (node)" : ""}</td>
                <td>{m.role}</td>
                <td className={m.state === "connected" ? "ok" : m.state === "failed" ? "bad" : ""} data-testid={"member-state-" + (m.name || m.deviceId)}>
                  {m.state}{m.state === "connected" ? " · " + m.transport : ""}
                </td>
                <td>{m.rttMs === null ? "—" : m.rttMs.toFixed(1) + " ms"}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <h2>Files</h2>
        <ul className="transfers" data-testid="transfers">
          {[...room.transfers.values()].map((t) => (
            <li key={t.id} data-direction={t.direction} data-state={t.state}>
              <div>{t.direction === "in" ? "from " : "to "}{nameOf(t.peer)}: {t.name} ({bytes(t.size)}) — {t.state}</div>
              <progress max={t.size || 1} value={t.bytes} data-testid={"progress-" + t.direction} />
              {t.url && (
                <a href={t.url} download={t.name} data-testid="download" data-sha256={t.sha256}>
                  download
                </a>
              )}
            </li>
          ))}
        </ul>
      </aside>
      <main
        data-testid="dropzone"
        className={dragging ? "dragging" : ""}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => {
          e.preventDefault();
          setDragging(false);
          drop(e.dataTransfer.files);
        }}
      >
        <ol className="chat" data-testid="room-chat">
          {room.chat.map((line) => (
            <li key={line.id} className={line.own ? "own" : ""}>
              <span className="who">{nameOf(line.from)}{line.scope === "direct" ? " (direct)" : ""}</span> {line.text}
            </li>
          ))}
        </ol>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            room.say(draft, target || undefined).catch((err: Error) => setError(err.message));
            setDraft("");
          }}
        >
          <input value={draft} onChange={(e) => setDraft(e.target.value)} placeholder={target ? "to " + nameOf(target) : "to everyone in the room"} data-testid="room-draft" />
          <button disabled={!draft}>Send</button>
        </form>
        <div className="hint">Drop a file here to send it to {target ? nameOf(target) : "everyone connected"}.</div>
        {error && <div className="error">{error}</div>}
      </main>
    </div>
  );
}
