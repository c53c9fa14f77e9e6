// A Hyphae link, sans-IO: the Noise XX handshake in 2-byte length-prefixed frames, then records
// (type, uvarint length, body) in Noise transport frames, exactly as nodes speak it over TCP and
// WebSocket. Bytes in, bytes and records out; the caller owns the channel.
import { concat, decodeUvarint, encodeUvarint } from "./bytes.js";
import { Identity } from "./identity.js";
import { CipherState, NoiseXX } from "./noise.js";

export const RecordType = {
  data: 1,
  ack: 2,
  ping: 3,
  pong: 4,
  ephemeral: 5,
  close: 6,
  fragment: 7,
  discovery: 8,
  relay: 9,
} as const;

export interface LinkRecord {
  type: number;
  body: Uint8Array;
}

const MAX_FRAME = 65535;
const TAG = 16;
const MAX_RECORD = (1 << 20) + 4096;
const EMPTY = new Uint8Array(0);

function frame(message: Uint8Array): Uint8Array {
  if (message.length === 0 || message.length > MAX_FRAME) throw new Error("frame size " + message.length);
  return concat(Uint8Array.of(message.length >> 8, message.length & 0xff), message);
}

export class LinkSession {
  private readonly noise: NoiseXX;
  private send: CipherState | null = null;
  private recv: CipherState | null = null;
  private frames: Uint8Array = EMPTY;
  private plain: Uint8Array = EMPTY;

  constructor(initiator: boolean, identity: Identity, expectedRemote: Uint8Array | null = null) {
    this.noise = new NoiseXX(initiator, identity, expectedRemote);
  }

  get established(): boolean {
    return this.send !== null;
  }
  get remote(): Uint8Array | null {
    return this.noise.remotePeerId;
  }

  // The initiator's first message, framed; empty for the responder.
  start(): Uint8Array {
    return this.noise.initiator ? frame(this.noise.writeMessage()) : EMPTY;
  }

  // Consumes received bytes. Returns the handshake replies to send (framed) and the records that
  // arrived. Throws when the link must close (the message says why).
  onBytes(data: Uint8Array): { reply: Uint8Array; records: LinkRecord[] } {
    this.frames = this.frames.length ? concat(this.frames, data) : data.slice();
    const replies: Uint8Array[] = [];
    const records: LinkRecord[] = [];
    let at = 0;
    while (this.frames.length - at >= 2) {
      const size = (this.frames[at] << 8) | this.frames[at + 1];
      if (size === 0) throw new Error("malformed: empty frame");
      if (this.frames.length - at - 2 < size) break;
      const message = this.frames.subarray(at + 2, at + 2 + size);
      at += 2 + size;
      if (!this.established) {
        this.noise.readMessage(message);
        if (!this.noise.done && this.noise.ourTurn) replies.push(frame(this.noise.writeMessage()));
        if (this.noise.done) [this.send, this.recv] = this.noise.split();
        continue;
      }
      if (size < TAG) throw new Error("malformed: short transport frame");
      const plaintext = this.recv!.decrypt(EMPTY, message);
      this.plain = this.plain.length ? concat(this.plain, plaintext) : plaintext;
      this.takeRecords(records);
    }
    this.frames = this.frames.slice(at);
    return { reply: replies.length ? concat(...replies) : EMPTY, records };
  }

  // Records sealed into as few frames as fit. Only once established.
  seal(records: LinkRecord[]): Uint8Array {
    if (!this.send) throw new Error("link not established");
    const parts: Uint8Array[] = [];
    for (const r of records) parts.push(Uint8Array.of(r.type), encodeUvarint(r.body.length), r.body);
    const plaintext = concat(...parts);
    const out: Uint8Array[] = [];
    for (let at = 0; at < plaintext.length; at += MAX_FRAME - TAG)
      out.push(frame(this.send.encrypt(EMPTY, plaintext.subarray(at, Math.min(plaintext.length, at + MAX_FRAME - TAG)))));
    return concat(...out);
  }

  private takeRecords(records: LinkRecord[]): void {
    let at = 0;
    for (;;) {
      if (this.plain.length - at < 2) break;
      const type = this.plain[at];
      if (type < 1 || type > 9) throw new Error("malformed: unknown record type " + type);
      const len = decodeUvarint(this.plain, at + 1);
      if (!len) break;
      if (len.value > MAX_RECORD) throw new Error("too large: record of " + len.value + " bytes");
      const start = at + 1 + len.size;
      if (this.plain.length < start + len.value) break;
      records.push({ type, body: this.plain.slice(start, start + len.value) });
      at = start + len.value;
    }
    this.plain = at === this.plain.length ? EMPTY : this.plain.slice(at);
  }
}
