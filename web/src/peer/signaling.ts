// SignalingClient: a browser's connection to `hyphae signal` (its plain WebSocket front end,
// ws://host:port/{PeerId}): it proves the PeerId by signing the server's challenge, joins rooms,
// and passes OFFER / ANSWER / ICE_CANDIDATE messages to other devices. Everything after sign-in
// reaches `onMessage`.
import { base64 } from "@scure/base";

import { utf8 } from "./bytes.js";
import { Identity } from "./identity.js";

export const CHALLENGE_DOMAIN = "hyphae-signal-v1";

export interface SignalMessage {
  type: string;
  [field: string]: unknown;
}

export interface RoomMember {
  deviceId: string;
  capabilities: Record<string, unknown>;
}

export class SignalingClient {
  onMessage: (message: SignalMessage) => void = () => {};
  onClose: (reason: string) => void = () => {};
  private readonly waiting = new Map<string, (members: RoomMember[]) => void>();

  private constructor(
    private readonly socket: WebSocket,
    readonly deviceId: string,
  ) {}

  // Connects and signs in; rejects when the server refuses or within `timeoutMs`.
  static connect(url: string, identity: Identity, timeoutMs = 10_000): Promise<SignalingClient> {
    const deviceId = identity.peerIdText;
    const socket = new WebSocket(url.replace(/\/$/, "") + "/" + deviceId);
    const client = new SignalingClient(socket, deviceId);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error("signaling: no sign-in within " + timeoutMs + " ms"));
        socket.close();
      }, timeoutMs);
      let signedIn = false;
      socket.onerror = () => {
        if (!signedIn) reject(new Error("signaling: cannot connect to " + url));
      };
      socket.onclose = (event) => {
        clearTimeout(timer);
        if (!signedIn) reject(new Error("signaling: closed before sign-in (" + event.code + ")"));
        else client.onClose(event.reason || "closed (" + event.code + ")");
      };
      socket.onmessage = (event) => {
        if (typeof event.data !== "string") return;
        let message: SignalMessage;
        try {
          message = JSON.parse(event.data) as SignalMessage;
        } catch {
          return;
        }
        if (signedIn) return client.dispatch(message);
        if (message.type === "CHALLENGE" && typeof message.nonce === "string") {
          const signature = identity.sign(utf8(CHALLENGE_DOMAIN + message.nonce + deviceId));
          socket.send(JSON.stringify({ type: "AUTH", signature: base64.encode(signature) }));
        } else if (message.type === "AUTHENTICATED") {
          signedIn = true;
          clearTimeout(timer);
          resolve(client);
        } else if (message.type === "ERROR") {
          reject(new Error("signaling: " + String(message.error)));
        }
      };
    });
  }

  // Joins `room`; resolves with its members (this device not among them).
  join(room: string, capabilities: Record<string, unknown> = {}): Promise<RoomMember[]> {
    return new Promise((resolve) => {
      this.waiting.set(room, resolve);
      this.socket.send(JSON.stringify({ type: "JOIN", room, capabilities }));
    });
  }

  leave(room: string): void {
    this.socket.send(JSON.stringify({ type: "LEAVE", room }));
  }

  send(type: "OFFER" | "ANSWER" | "ICE_CANDIDATE" | "RELAY_REQUEST", to: string, payload: unknown): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ type, to, payload }));
  }

  close(): void {
    this.socket.close();
  }

  private dispatch(message: SignalMessage): void {
    if (message.type === "ROOM" && typeof message.room === "string") {
      const resolve = this.waiting.get(message.room);
      if (resolve) {
        this.waiting.delete(message.room);
        const members = (Array.isArray(message.members) ? message.members : []) as RoomMember[];
        resolve(members.filter((m) => m.deviceId !== this.deviceId));
      }
    }
    this.onMessage(message);
  }
}
