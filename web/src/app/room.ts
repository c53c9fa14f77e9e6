// A messenger room: this browser signs in at `hyphae signal` with its own PeerId, joins a room,
// and keeps a WebRTC link (a PeerLink inside a data channel) to every member: other browsers and
// nodes whose WebRTC transport joined the same room. Chat goes over those links (durable, acked),
// files with the node's file transfer protocol. No React here; the view subscribes to onChange.
import {
  FileTransfers,
  Identity,
  PeerLink,
  ReceivedMessage,
  RtcConnector,
  SignalingClient,
  SignalMessage,
  TransferProgress,
  ByteChannel,
  fromUtf8,
  peerIdFromText,
  utf8,
} from "../peer/index";

export const CHAT_MESSAGE_TYPE = 1;

export interface Profile {
  name: string;
  role: string;
}

export interface Member {
  deviceId: string;
  name: string;
  role: string;
  kind: string; // "browser" or "node"
  services: string[];
  state: "connecting" | "connected" | "failed" | "left";
  transport: string;
  rttMs: number | null;
  error?: string;
}

export interface ChatLine {
  id: string;
  from: string;
  scope: "room" | "direct";
  text: string;
  at: number;
  own: boolean;
}

export interface Transfer extends TransferProgress {
  peer: string;
  direction: "in" | "out";
  url?: string;
  sha256?: string;
}

interface Link {
  link: PeerLink;
  files: FileTransfers;
}

// The browser's identity, kept in localStorage so a reload keeps its PeerId.
export function browserIdentity(): Identity {
  const key = "hyphae.browser.secret";
  const stored = localStorage.getItem(key);
  if (stored && /^[0-9a-f]{64}$/.test(stored)) {
    const bytes = new Uint8Array(32);
    for (let i = 0; i < 32; i++) bytes[i] = parseInt(stored.slice(2 * i, 2 * i + 2), 16);
    return Identity.fromSecretKey(bytes);
  }
  const identity = Identity.generate();
  localStorage.setItem(key, Array.from(identity.secretKey, (b) => b.toString(16).padStart(2, "0")).join(""));
  return identity;
}

export class Room {
  onChange: () => void = () => {};
  readonly members = new Map<string, Member>();
  readonly chat: ChatLine[] = [];
  readonly transfers = new Map<string, Transfer>();
  // performance.now() at join, and when the first chat message from a member arrived.
  readonly joinedAt = performance.now();
  firstMessageMs: number | null = null;
  private readonly links = new Map<string, Link>();
  private readonly rtc: RtcConnector;
  private pinger: ReturnType<typeof setInterval>;

  private constructor(
    private readonly signaling: SignalingClient,
    private readonly identity: Identity,
    readonly name: string,
    readonly profile: Profile,
  ) {
    this.rtc = new RtcConnector(signaling);
    this.rtc.onChannel = (channel, from) => void this.adopt(channel, from, false);
    const previous = signaling.onMessage;
    signaling.onMessage = (m) => {
      previous(m);
      this.onSignal(m);
    };
    this.pinger = setInterval(() => {
      for (const { link } of this.links.values()) link.ping();
    }, 2000);
  }

  get self(): string {
    return this.identity.peerIdText;
  }

  static async join(signalUrl: string, identity: Identity, room: string, profile: Profile): Promise<Room> {
    const signaling = await SignalingClient.connect(signalUrl, identity);
    const r = new Room(signaling, identity, room, profile);
    const members = await signaling.join(room, { kind: "browser", name: profile.name, role: profile.role, services: ["chat", "files"] });
    for (const m of members) r.met(m.deviceId, m.capabilities);
    r.onChange();
    return r;
  }

  leave(): void {
    clearInterval(this.pinger);
    for (const { link } of this.links.values()) link.close("left the room");
    this.signaling.close();
  }

  // Chat to everyone connected (scope room) or to one member (direct).
  async say(text: string, to?: string): Promise<void> {
    const targets = to ? [to] : [...this.links.keys()];
    const payload = utf8(JSON.stringify({ room: this.name, scope: to ? "direct" : "room", text }));
    const line: ChatLine = { id: crypto.randomUUID(), from: this.self, scope: to ? "direct" : "room", text, at: Date.now(), own: true };
    this.chat.push(line);
    this.onChange();
    await Promise.all(targets.map((t) => this.links.get(t)?.link.send(payload, { type: CHAT_MESSAGE_TYPE })));
  }

  async sendFile(to: string, file: File): Promise<void> {
    const l = this.links.get(to);
    if (!l) throw new Error("not connected to " + to);
    await l.files.send(file, file.name);
  }

  private met(deviceId: string, caps: Record<string, unknown>): void {
    if (deviceId === this.self) return;
    const member: Member = {
      deviceId,
      name: typeof caps.name === "string" ? caps.name : "",
      role: typeof caps.role === "string" ? caps.role : caps.kind === "node" ? "node" : "member",
      kind: typeof caps.kind === "string" ? caps.kind : "browser",
      services: Array.isArray(caps.services) ? caps.services.map(String) : [],
      state: "connecting",
      transport: "webrtc",
      rttMs: null,
    };
    this.members.set(deviceId, member);
    // One side offers: nodes never call browsers, and between browsers the smaller PeerId does.
    if (member.kind === "node" || this.self < deviceId) void this.dial(deviceId);
    this.onChange();
  }

  private async dial(deviceId: string): Promise<void> {
    try {
      const channel = await this.rtc.dial(deviceId);
      await this.adopt(channel, deviceId, true);
    } catch (e) {
      this.fail(deviceId, (e as Error).message);
    }
  }

  private async adopt(channel: ByteChannel, deviceId: string, initiator: boolean): Promise<void> {
    try {
      const link = await PeerLink.open(channel, this.identity, { initiator, expectedRemote: peerIdFromText(deviceId), pingIntervalMs: 2000 });
      const files = new FileTransfers(link);
      this.links.get(deviceId)?.link.close("replaced");
      this.links.set(deviceId, { link, files });
      const member = this.members.get(deviceId);
      if (member) member.state = "connected";
      link.onRtt = (rtt) => {
        const m = this.members.get(deviceId);
        if (m) m.rttMs = rtt;
        this.onChange();
      };
      link.onMessage = (m) => this.received(deviceId, m, files);
      link.onClose = (reason) => {
        if (this.links.get(deviceId)?.link === link) this.links.delete(deviceId);
        const m = this.members.get(deviceId);
        if (m && m.state !== "left") {
          m.state = "failed";
          m.error = reason;
        }
        this.onChange();
      };
      files.onOffer = (offer) => {
        this.transfers.set(offer.id, { id: offer.id, name: offer.name, size: offer.size, bytes: 0, state: "offered", peer: deviceId, direction: "in" });
        files.accept(offer.id); // the messenger takes every file offered; it lands as a download link
      };
      files.onProgress = (p) => {
        const known = this.transfers.get(p.id);
        this.transfers.set(p.id, { ...known, ...p, peer: deviceId, direction: known?.direction ?? "out" });
        this.onChange();
      };
      files.onFile = (f) => {
        const t = this.transfers.get(f.id);
        if (t) {
          t.url = URL.createObjectURL(f.blob);
          t.sha256 = f.sha256;
        }
        this.onChange();
      };
      link.ping();
      this.onChange();
    } catch (e) {
      this.fail(deviceId, (e as Error).message);
    }
  }

  private received(from: string, m: ReceivedMessage, files: FileTransfers): void {
    if (files.handle(m)) return;
    let body: { scope?: string; text?: string } = {};
    if (m.type === CHAT_MESSAGE_TYPE) {
      try {
        body = JSON.parse(fromUtf8(m.payload)) as typeof body;
      } catch {
        body = { scope: "direct", text: fromUtf8(m.payload) };
      }
    } else if (m.type === 0) {
      body = { scope: "direct", text: fromUtf8(m.payload) }; // a plain message, e.g. from a node's user
    } else {
      return;
    }
    if (typeof body.text !== "string") return;
    if (this.firstMessageMs === null) this.firstMessageMs = performance.now() - this.joinedAt;
    this.chat.push({ id: m.id, from, scope: body.scope === "room" ? "room" : "direct", text: body.text, at: m.timestampMs, own: false });
    this.onChange();
  }

  private fail(deviceId: string, why: string): void {
    const m = this.members.get(deviceId);
    if (m && m.state === "connecting") {
      m.state = "failed";
      m.error = why;
    }
    this.onChange();
  }

  private onSignal(message: SignalMessage): void {
    if (message.room !== this.name) return;
    if (message.type === "PEER_JOINED" && typeof message.deviceId === "string")
      this.met(message.deviceId, (message.capabilities ?? {}) as Record<string, unknown>);
    if (message.type === "PEER_LEFT" && typeof message.deviceId === "string") {
      const m = this.members.get(message.deviceId);
      if (m) m.state = "left";
      this.links.get(message.deviceId)?.link.close("left the room");
      this.links.delete(message.deviceId);
      this.onChange();
    }
  }
}
