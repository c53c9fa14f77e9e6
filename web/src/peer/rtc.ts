// WebRTC links: a reliable, ordered RTCDataChannel ("hyphae", protocol "p2p-messenger") negotiated
// through a SignalingClient, as the ByteChannel a PeerLink runs over. The payloads match the node's
// WebRTC transport: OFFER and ANSWER {session, sdp}, ICE_CANDIDATE {session, candidate} ("" ends).
// The side that offers runs the Noise initiator.
import { hex } from "./bytes.js";
import { ByteChannel } from "./peer_link.js";
import { SignalingClient, SignalMessage } from "./signaling.js";

export const LINK_CHANNEL_LABEL = "hyphae";
export const LINK_CHANNEL_PROTOCOL = "p2p-messenger";
const MAX_CHANNEL_MESSAGE = 64 * 1024;

export interface RtcOptions {
  iceServers?: RTCIceServer[];
  timeoutMs?: number;
}

interface Negotiation {
  peer: string;
  pc: RTCPeerConnection;
}

function newSession(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return hex(bytes);
}

// The open data channel as a ByteChannel: writes go out in messages of at most 64 KiB.
export function dataChannelByteChannel(pc: RTCPeerConnection, dc: RTCDataChannel): ByteChannel {
  dc.binaryType = "arraybuffer";
  const channel: ByteChannel = {
    send: (bytes) => {
      for (let at = 0; at < bytes.length; at += MAX_CHANNEL_MESSAGE)
        dc.send(bytes.subarray(at, Math.min(bytes.length, at + MAX_CHANNEL_MESSAGE)) as Uint8Array<ArrayBuffer>);
    },
    close: () => {
      dc.close();
      pc.close();
    },
    onBytes: () => {},
    onClose: () => {},
    bufferedAmount: () => dc.bufferedAmount,
  };
  dc.onmessage = (event) => {
    if (typeof event.data === "string") {
      channel.onClose("a text message on the link's channel");
      channel.close();
      return;
    }
    channel.onBytes(new Uint8Array(event.data as ArrayBuffer));
  };
  dc.onclose = () => channel.onClose("the data channel closed");
  return channel;
}

// Offers, answers and candidates for one device's WebRTC links.
export class RtcConnector {
  // A link a peer opened toward us (we answered): run PeerLink.open as the responder on it.
  onChannel: (channel: ByteChannel, from: string) => void = () => {};
  private readonly negotiations = new Map<string, Negotiation>();
  private queue: Promise<void> = Promise.resolve();
  private readonly dials = new Map<string, { resolve: (c: ByteChannel) => void; reject: (e: Error) => void }>();

  constructor(
    private readonly signaling: SignalingClient,
    private readonly options: RtcOptions = {},
  ) {
    const previous = signaling.onMessage;
    signaling.onMessage = (message) => {
      previous(message);
      // One at a time: a candidate must not overtake the description it belongs to.
      this.queue = this.queue.then(() => this.onSignal(message)).catch(() => {});
    };
  }

  // Offers a link to `peer` (a PeerId at the same signaling server).
  dial(peer: string): Promise<ByteChannel> {
    const session = newSession();
    const pc = this.connection(session, peer);
    const dc = pc.createDataChannel(LINK_CHANNEL_LABEL, { ordered: true, protocol: LINK_CHANNEL_PROTOCOL });
    const opened = new Promise<ByteChannel>((resolve, reject) => {
      this.dials.set(session, { resolve, reject });
      const timer = setTimeout(() => this.fail(session, "no data channel within " + this.timeout() + " ms"), this.timeout());
      dc.onopen = () => {
        clearTimeout(timer);
        this.dials.delete(session);
        this.negotiations.delete(session);
        resolve(dataChannelByteChannel(pc, dc));
      };
    });
    void (async () => {
      try {
        const offer = await pc.createOffer();
        await pc.setLocalDescription(offer);
        this.signaling.send("OFFER", peer, { session, sdp: pc.localDescription!.sdp });
      } catch (e) {
        this.fail(session, "cannot make an offer: " + String(e));
      }
    })();
    return opened;
  }

  private timeout(): number {
    return this.options.timeoutMs ?? 15_000;
  }

  private connection(session: string, peer: string): RTCPeerConnection {
    const pc = new RTCPeerConnection({ iceServers: this.options.iceServers ?? [] });
    this.negotiations.set(session, { peer, pc });
    pc.onicecandidate = (event) => {
      this.signaling.send("ICE_CANDIDATE", peer, { session, candidate: event.candidate ? event.candidate.candidate : "" });
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed") this.fail(session, "the WebRTC connection failed");
    };
    return pc;
  }

  private fail(session: string, why: string): void {
    const n = this.negotiations.get(session);
    this.negotiations.delete(session);
    const dial = this.dials.get(session);
    this.dials.delete(session);
    if (dial) {
      n?.pc.close();
      dial.reject(new Error(why));
    }
  }

  private async onSignal(message: SignalMessage): Promise<void> {
    const from = typeof message.from === "string" ? message.from : "";
    const payload = (message.payload ?? {}) as { session?: unknown; sdp?: unknown; candidate?: unknown };
    const session = typeof payload.session === "string" ? payload.session : "";
    if (message.type === "ERROR" && message.ref === "OFFER") {
      for (const [id, n] of this.negotiations) if (n.peer === message.to) this.fail(id, "the peer is not at the signaling server");
      return;
    }
    if (!from || !session) return;
    if (message.type === "OFFER" && typeof payload.sdp === "string" && !this.negotiations.has(session)) {
      const pc = this.connection(session, from);
      pc.ondatachannel = (event) => {
        const dc = event.channel;
        if (dc.label !== LINK_CHANNEL_LABEL) return dc.close();
        dc.onopen = () => {
          this.negotiations.delete(session);
          this.onChannel(dataChannelByteChannel(pc, dc), from);
        };
      };
      try {
        await pc.setRemoteDescription({ type: "offer", sdp: payload.sdp });
        const answer = await pc.createAnswer();
        await pc.setLocalDescription(answer);
        this.signaling.send("ANSWER", from, { session, sdp: pc.localDescription!.sdp });
      } catch {
        this.negotiations.delete(session);
        pc.close();
      }
      return;
    }
    const n = this.negotiations.get(session);
    if (!n || n.peer !== from) return;
    try {
      if (message.type === "ANSWER" && typeof payload.sdp === "string") {
        await n.pc.setRemoteDescription({ type: "answer", sdp: payload.sdp });
      } else if (message.type === "ICE_CANDIDATE" && typeof payload.candidate === "string" && payload.candidate) {
        await n.pc.addIceCandidate({ candidate: payload.candidate, sdpMid: "0", sdpMLineIndex: 0 });
      }
    } catch (e) {
      if (message.type === "ANSWER") this.fail(session, "a bad answer: " + String(e));
    }
  }
}
