// PeerLink: one authenticated link to a Hyphae peer over a byte channel (a WebSocket to a node, or
// a WebRTC data channel to another browser). It runs the handshake, sends messages as data records
// and resolves each when the peer acks it, delivers and acks what arrives (once per message id),
// answers pings and sends its own.
import { hex } from "./bytes.js";
import { decodeEnvelope, encodeEnvelope, Envelope, FLAG_SEALED, linkEnvelope } from "./envelope.js";
import { Identity, peerIdToText } from "./identity.js";
import { LinkRecord, LinkSession, RecordType } from "./link.js";

// Bytes both ways; the link takes over onBytes/onClose.
export interface ByteChannel {
  send(bytes: Uint8Array): void;
  close(): void;
  onBytes: (bytes: Uint8Array) => void;
  onClose: (reason: string) => void;
  // Bytes handed to send() and not yet on the wire (what senders of bulk data pace on).
  bufferedAmount?: () => number;
}

export interface ReceivedMessage {
  id: string; // hex
  from: string; // PeerId text
  type: number;
  priority: number;
  timestampMs: number;
  payload: Uint8Array;
  durable: boolean;
}

export interface SendOptions {
  type?: number;
  priority?: number;
  ttlS?: number;
}

const SEEN_LIMIT = 10_000;

export class PeerLink {
  onMessage: (message: ReceivedMessage) => void = () => {};
  onClose: (reason: string) => void = () => {};
  private readonly pending = new Map<string, { resolve: (id: string) => void; reject: (e: Error) => void }>();
  private readonly seen = new Set<string>();
  private closed = false;
  private pinger: ReturnType<typeof setInterval> | null = null;
  private readonly pings = new Map<string, number>(); // token -> when sent (performance.now())
  // The last ping's round trip (ms), or null before the first answer.
  rttMs: number | null = null;
  onRtt: (rttMs: number) => void = () => {};

  private constructor(
    private readonly channel: ByteChannel,
    private readonly session: LinkSession,
  ) {}

  get remote(): string {
    return peerIdToText(this.session.remote!);
  }

  // Runs the handshake over `channel` (as the Noise initiator when `initiator`). With
  // `expectedRemote`, a peer that proves another PeerId is refused.
  static open(
    channel: ByteChannel,
    identity: Identity,
    options: { initiator: boolean; expectedRemote?: Uint8Array | null; timeoutMs?: number; pingIntervalMs?: number },
  ): Promise<PeerLink> {
    const session = new LinkSession(options.initiator, identity, options.expectedRemote ?? null);
    const link = new PeerLink(channel, session);
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => fail("handshake timed out"), options.timeoutMs ?? 10_000);
      const fail = (reason: string) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          reject(new Error(reason));
        }
        link.shutdown(reason);
      };
      channel.onClose = (reason) => fail(reason || "channel closed");
      channel.onBytes = (bytes) => {
        try {
          const { reply, records } = session.onBytes(bytes);
          if (reply.length) channel.send(reply);
          if (session.established && !settled) {
            settled = true;
            clearTimeout(timer);
            link.pinger = setInterval(() => link.ping(), options.pingIntervalMs ?? 15_000);
            resolve(link);
          }
          for (const r of records) link.onRecord(r);
        } catch (e) {
          fail((e as Error).message);
        }
      };
      const first = session.start();
      if (first.length) channel.send(first);
    });
  }

  // Sends a durable message; resolves with its id (hex) when the peer has acked it.
  send(payload: Uint8Array, options: SendOptions = {}): Promise<string> {
    if (this.closed) return Promise.reject(new Error("link closed"));
    const env = linkEnvelope(payload, options);
    const id = hex(env.id);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.write([{ type: RecordType.data, body: encodeEnvelope(env) }]);
    });
  }

  // Sends a real-time message: no ack, not kept.
  sendEphemeral(payload: Uint8Array, options: SendOptions = {}): string {
    const env = linkEnvelope(payload, options);
    env.flags &= ~0x08;
    this.write([{ type: RecordType.ephemeral, body: encodeEnvelope(env) }]);
    return hex(env.id);
  }

  close(reason = "closed by the app"): void {
    if (this.closed) return;
    try {
      this.channel.send(this.session.seal([{ type: RecordType.close, body: new TextEncoder().encode(reason) }]));
    } catch {
      // the channel may be gone already
    }
    this.shutdown(reason);
  }

  private write(records: LinkRecord[]): void {
    if (this.closed) return;
    this.channel.send(this.session.seal(records));
  }

  // Sends a ping; its pong updates rttMs.
  ping(): void {
    const token = crypto.getRandomValues(new Uint8Array(8));
    if (this.pings.size >= 16) this.pings.delete(this.pings.keys().next().value as string);
    this.pings.set(hex(token), performance.now());
    this.write([{ type: RecordType.ping, body: token }]);
  }

  bufferedAmount(): number {
    return this.channel.bufferedAmount?.() ?? 0;
  }

  private onRecord(record: LinkRecord): void {
    switch (record.type) {
      case RecordType.ping:
        if (record.body.length !== 8) throw new Error("a ping carries 8 bytes");
        this.write([{ type: RecordType.pong, body: record.body }]);
        return;
      case RecordType.pong: {
        const sent = this.pings.get(hex(record.body));
        if (sent !== undefined) {
          this.pings.delete(hex(record.body));
          this.rttMs = performance.now() - sent;
          this.onRtt(this.rttMs);
        }
        return;
      }
      case RecordType.close:
        this.shutdown("remote closed: " + new TextDecoder().decode(record.body));
        return;
      case RecordType.ack:
        if (record.body.length % 16 !== 0) throw new Error("an ack is a list of 16-byte ids");
        for (let at = 0; at < record.body.length; at += 16) {
          const id = hex(record.body.subarray(at, at + 16));
          const waiter = this.pending.get(id);
          if (waiter) {
            this.pending.delete(id);
            waiter.resolve(id);
          }
        }
        return;
      case RecordType.data:
      case RecordType.ephemeral:
        this.onEnvelope(record.type === RecordType.data, decodeEnvelope(record.body).envelope);
        return;
      default:
        return; // discovery, relay, fragments: not spoken by browsers (yet); ignored
    }
  }

  private onEnvelope(durable: boolean, env: Envelope): void {
    if (env.flags & FLAG_SEALED) return; // sealed for store-and-forward: not opened here, so not acked
    const id = hex(env.id);
    if (durable) this.write([{ type: RecordType.ack, body: env.id }]);
    if (this.seen.has(id)) return;
    this.seen.add(id);
    if (this.seen.size > SEEN_LIMIT) this.seen.delete(this.seen.values().next().value as string);
    this.onMessage({
      id,
      from: env.from ? peerIdToText(env.from) : this.remote,
      type: env.type,
      priority: env.priority,
      timestampMs: Number(env.timestampMs),
      payload: env.payload,
      durable,
    });
  }

  private shutdown(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pinger) clearInterval(this.pinger);
    for (const [, waiter] of this.pending) waiter.reject(new Error("link closed: " + reason));
    this.pending.clear();
    this.channel.close();
    this.onClose(reason);
  }
}

// A WebSocket as a ByteChannel (binary messages; each carries whole or partial frames).
export function webSocketChannel(socket: WebSocket): Promise<ByteChannel> {
  socket.binaryType = "arraybuffer";
  return new Promise((resolve, reject) => {
    const channel: ByteChannel = {
      send: (bytes) => socket.send(bytes),
      close: () => socket.close(),
      bufferedAmount: () => socket.bufferedAmount,
      onBytes: () => {},
      onClose: () => {},
    };
    socket.onmessage = (event) => {
      if (typeof event.data === "string") {
        channel.onClose("a text message on a binary link");
        socket.close();
        return;
      }
      channel.onBytes(new Uint8Array(event.data as ArrayBuffer));
    };
    socket.onclose = (event) => channel.onClose(event.reason || "connection closed (" + event.code + ")");
    socket.onerror = () => reject(new Error("WebSocket error"));
    socket.onopen = () => resolve(channel);
  });
}
