// File transfer between peers, as nodes speak it (envelope type 240, docs/wire-format.md "File
// transfer messages"): offer -> accept -> chunks (each with its SHA-256, sent ephemeral at LOW
// priority, paced by the receiver's progress within a window) -> complete once the receiver has
// checked the whole file's SHA-256. Either side may cancel.
import { sha256 } from "@noble/hashes/sha2.js";

import { concat, equal, fromUtf8, hex, utf8 } from "./bytes.js";
import { PeerLink, ReceivedMessage } from "./peer_link.js";

export const FILE_MESSAGE_TYPE = 240;
export const DEFAULT_CHUNK = 256 * 1024;
const WINDOW = 8 * 1024 * 1024;
const LOW = 3;

export const FileKind = { offer: 1, accept: 2, decline: 3, chunk: 4, progress: 5, complete: 6, cancel: 7 } as const;

export type FileMessage =
  | { kind: 1; id: Uint8Array; size: number; chunkSize: number; sha256: Uint8Array; name: string; mediaType: string }
  | { kind: 2; id: Uint8Array; offset: number }
  | { kind: 3 | 7; id: Uint8Array; reason: string }
  | { kind: 4; id: Uint8Array; offset: number; sha256: Uint8Array; data: Uint8Array }
  | { kind: 5; id: Uint8Array; offset: number; resend: boolean }
  | { kind: 6; id: Uint8Array; ok: boolean; reason: string };

class Writer {
  private parts: Uint8Array[] = [];
  u8(v: number) {
    this.parts.push(Uint8Array.of(v));
  }
  u16(v: number) {
    this.parts.push(Uint8Array.of(v >> 8, v & 255));
  }
  u32(v: number) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, false);
    this.parts.push(b);
  }
  u64(v: number) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v), false);
    this.parts.push(b);
  }
  bytes(b: Uint8Array) {
    this.parts.push(b);
  }
  done(): Uint8Array {
    return concat(...this.parts);
  }
}

class Reader {
  private at = 0;
  constructor(private readonly data: Uint8Array) {}
  private need(n: number) {
    if (this.at + n > this.data.length) throw new Error("a file message ends early");
  }
  u8(): number {
    this.need(1);
    return this.data[this.at++];
  }
  u16(): number {
    this.need(2);
    const v = (this.data[this.at] << 8) | this.data[this.at + 1];
    this.at += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = new DataView(this.data.buffer, this.data.byteOffset + this.at, 4).getUint32(0, false);
    this.at += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const v = new DataView(this.data.buffer, this.data.byteOffset + this.at, 8).getBigUint64(0, false);
    this.at += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error("a file offset past 2^53");
    return Number(v);
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.data.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  rest(): Uint8Array {
    return this.bytes(this.data.length - this.at);
  }
  end() {
    if (this.at !== this.data.length) throw new Error("bytes after a file message");
  }
}

export function encodeFileMessage(m: FileMessage): Uint8Array {
  const w = new Writer();
  w.u8(m.kind);
  w.bytes(m.id);
  switch (m.kind) {
    case 1: {
      const name = utf8(m.name), type = utf8(m.mediaType);
      w.u64(m.size);
      w.u32(m.chunkSize);
      w.bytes(m.sha256);
      w.u16(name.length);
      w.bytes(name);
      w.u8(type.length);
      w.bytes(type);
      break;
    }
    case 2:
      w.u64(m.offset);
      break;
    case 3:
    case 7: {
      const r = utf8(m.reason);
      w.u16(r.length);
      w.bytes(r);
      break;
    }
    case 4:
      w.u64(m.offset);
      w.bytes(m.sha256);
      w.bytes(m.data);
      break;
    case 5:
      w.u64(m.offset);
      w.u8(m.resend ? 1 : 0);
      break;
    case 6: {
      const r = utf8(m.reason);
      w.u8(m.ok ? 0 : 1);
      w.u16(r.length);
      w.bytes(r);
      break;
    }
  }
  return w.done();
}

// Throws for anything the node would not decode either.
export function decodeFileMessage(data: Uint8Array): FileMessage {
  const r = new Reader(data);
  const kind = r.u8();
  const id = r.bytes(16);
  let m: FileMessage;
  switch (kind) {
    case 1: {
      const size = r.u64(), chunkSize = r.u32(), digest = r.bytes(32);
      const nameLen = r.u16();
      if (nameLen > 255) throw new Error("a file name over 255 bytes");
      const name = fromUtf8(r.bytes(nameLen));
      const typeLen = r.u8();
      if (typeLen > 127) throw new Error("a media type over 127 bytes");
      const mediaType = fromUtf8(r.bytes(typeLen));
      if (chunkSize === 0 || chunkSize > 1 << 20) throw new Error("a chunk size out of range");
      m = { kind, id, size, chunkSize, sha256: digest, name, mediaType };
      break;
    }
    case 2:
      m = { kind, id, offset: r.u64() };
      break;
    case 3:
    case 7: {
      const n = r.u16();
      if (n > 512) throw new Error("a reason over 512 bytes");
      m = { kind, id, reason: fromUtf8(r.bytes(n)) };
      break;
    }
    case 4:
      m = { kind, id, offset: r.u64(), sha256: r.bytes(32), data: r.rest() };
      break;
    case 5: {
      const offset = r.u64(), flags = r.u8();
      if (flags & ~1) throw new Error("unknown progress flags");
      m = { kind, id, offset, resend: (flags & 1) !== 0 };
      break;
    }
    case 6: {
      const status = r.u8();
      if (status > 1) throw new Error("an unknown completion status");
      const n = r.u16();
      if (n > 512) throw new Error("a reason over 512 bytes");
      m = { kind, id, ok: status === 0, reason: fromUtf8(r.bytes(n)) };
      break;
    }
    default:
      throw new Error("an unknown file message kind " + kind);
  }
  r.end();
  return m;
}

export interface TransferProgress {
  id: string;
  name: string;
  size: number;
  bytes: number;
  state: "offered" | "sending" | "receiving" | "verifying" | "done" | "failed" | "declined";
  error?: string;
}

// One PeerLink's transfers, both ways. Incoming offers go to `onOffer` (accept or decline them);
// a finished incoming file arrives at `onFile` as a Blob whose SHA-256 matched the offer.
export class FileTransfers {
  onOffer: (offer: { id: string; name: string; size: number; mediaType: string }) => void = () => {};
  onProgress: (p: TransferProgress) => void = () => {};
  onFile: (file: { id: string; name: string; blob: Blob; sha256: string }) => void = () => {};
  private readonly sending = new Map<string, Outgoing>();
  private readonly receiving = new Map<string, Incoming>();

  constructor(private readonly link: PeerLink) {}

  // Handles a message if it is a file message (type 240); false otherwise.
  handle(message: ReceivedMessage): boolean {
    if (message.type !== FILE_MESSAGE_TYPE) return false;
    let m: FileMessage;
    try {
      m = decodeFileMessage(message.payload);
    } catch {
      return true; // malformed: dropped, as the node does
    }
    const id = hex(m.id);
    if (m.kind === 1) {
      if (this.receiving.has(id) || this.receiving.size >= 16) return true;
      this.receiving.set(id, new Incoming(m));
      this.onOffer({ id, name: m.name, size: m.size, mediaType: m.mediaType });
      return true;
    }
    const out = this.sending.get(id);
    if (out) {
      if (m.kind === 2) out.accepted(m.offset);
      else if (m.kind === 5) out.progressed(m.offset, m.resend);
      else if (m.kind === 3 || m.kind === 7) out.ended(m.kind === 3 ? "declined" : "failed", m.reason);
      else if (m.kind === 6) out.ended(m.ok ? "done" : "failed", m.reason);
      this.report(out.progress());
      if (out.finished) this.sending.delete(id);
      return true;
    }
    const inc = this.receiving.get(id);
    if (inc) {
      if (m.kind === 4) this.chunk(inc, m);
      else if (m.kind === 7) {
        inc.state = "failed";
        inc.error = "cancelled by the sender: " + m.reason;
        this.receiving.delete(id);
        this.report(inc.progress());
      }
    }
    return true;
  }

  // Offers `file`; resolves when the receiver confirms the SHA-256, rejects on decline or failure.
  async send(file: Blob, name: string, chunkSize = DEFAULT_CHUNK): Promise<string> {
    const hasher = sha256.create();
    for (let at = 0; at < file.size; at += 4 << 20)
      hasher.update(new Uint8Array(await file.slice(at, Math.min(file.size, at + (4 << 20))).arrayBuffer()));
    const id = crypto.getRandomValues(new Uint8Array(16));
    const out = new Outgoing(this.link, file, name, id, chunkSize, hasher.digest(), (p) => this.report(p));
    this.sending.set(hex(id), out);
    this.send240({ kind: 1, id, size: file.size, chunkSize, sha256: out.digest, name, mediaType: file.type.slice(0, 127) }, true);
    this.report(out.progress());
    return out.result;
  }

  accept(id: string): void {
    const inc = this.receiving.get(id);
    if (!inc || inc.state !== "offered") return;
    inc.state = "receiving";
    this.send240({ kind: 2, id: inc.offer.id, offset: 0 }, true);
    this.report(inc.progress());
  }

  decline(id: string, reason = "declined"): void {
    const inc = this.receiving.get(id);
    if (!inc) return;
    this.receiving.delete(id);
    this.send240({ kind: 3, id: inc.offer.id, reason }, true);
  }

  private chunk(inc: Incoming, m: Extract<FileMessage, { kind: 4 }>): void {
    if (inc.state !== "receiving") return;
    const expected = Math.min(inc.offer.chunkSize, inc.offer.size - inc.offset);
    if (m.offset !== inc.offset || m.data.length !== expected || !equal(sha256(m.data), m.sha256)) {
      if (m.offset > inc.offset || (m.offset === inc.offset && m.data.length === expected))
        this.send240({ kind: 5, id: inc.offer.id, offset: inc.offset, resend: true }, false);
      return;
    }
    inc.hasher.update(m.data);
    inc.parts.push(m.data.slice());
    inc.offset += m.data.length;
    this.send240({ kind: 5, id: inc.offer.id, offset: inc.offset, resend: false }, false);
    if (inc.offset === inc.offer.size) {
      const digest = inc.hasher.digest();
      const ok = equal(digest, inc.offer.sha256);
      this.send240({ kind: 6, id: inc.offer.id, ok, reason: ok ? "" : "the file's SHA-256 does not match the offer" }, true);
      inc.state = ok ? "done" : "failed";
      if (!ok) inc.error = "the file's SHA-256 does not match the offer";
      const id = hex(inc.offer.id);
      this.receiving.delete(id);
      if (ok) this.onFile({ id, name: inc.offer.name, blob: new Blob(inc.parts as BlobPart[], { type: inc.offer.mediaType }), sha256: hex(digest) });
    }
    this.report(inc.progress());
  }

  private send240(m: FileMessage, durable: boolean): void {
    const payload = encodeFileMessage(m);
    if (durable) this.link.send(payload, { type: FILE_MESSAGE_TYPE }).catch(() => {});
    else this.link.sendEphemeral(payload, { type: FILE_MESSAGE_TYPE, priority: LOW });
  }

  private report(p: TransferProgress): void {
    this.onProgress(p);
  }
}

type OfferMessage = Extract<FileMessage, { kind: 1 }>;

class Incoming {
  state: TransferProgress["state"] = "offered";
  offset = 0;
  error?: string;
  readonly hasher = sha256.create();
  readonly parts: Uint8Array[] = [];
  constructor(readonly offer: OfferMessage) {}
  progress(): TransferProgress {
    return { id: hex(this.offer.id), name: this.offer.name, size: this.offer.size, bytes: this.offset, state: this.state, error: this.error };
  }
}

class Outgoing {
  readonly result: Promise<string>;
  finished = false;
  private resolve!: (id: string) => void;
  private reject!: (e: Error) => void;
  private state: TransferProgress["state"] = "offered";
  private next = 0; // the next offset to send
  private acked = 0; // what the receiver confirmed
  private pumping = false;
  private error?: string;

  constructor(
    private readonly link: PeerLink,
    private readonly file: Blob,
    private readonly name: string,
    private readonly id: Uint8Array,
    private readonly chunkSize: number,
    readonly digest: Uint8Array,
    private readonly report: (p: TransferProgress) => void,
  ) {
    this.result = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  accepted(offset: number): void {
    if (this.state !== "offered") return;
    this.state = "sending";
    this.next = this.acked = Math.min(offset, this.file.size);
    void this.pump();
  }

  progressed(offset: number, resend: boolean): void {
    if (this.state !== "sending") return;
    if (offset > this.acked) this.acked = Math.min(offset, this.file.size);
    if (resend) this.next = Math.min(this.next, offset);
    void this.pump();
  }

  ended(state: "done" | "failed" | "declined", reason: string): void {
    if (this.finished) return;
    this.finished = true;
    this.state = state;
    if (state === "done") {
      this.acked = this.file.size;
      this.resolve(hex(this.id));
    } else {
      this.error = reason || state;
      this.reject(new Error(this.error));
    }
  }

  progress(): TransferProgress {
    return { id: hex(this.id), name: this.name, size: this.file.size, bytes: this.acked, state: this.state, error: this.error };
  }

  // Sends chunks while the window and the channel's buffer allow.
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.state === "sending" && this.next < this.file.size && this.next - this.acked < WINDOW) {
        const end = Math.min(this.file.size, this.next + this.chunkSize);
        const data = new Uint8Array(await this.file.slice(this.next, end).arrayBuffer());
        if (this.state !== "sending") break;
        const message: FileMessage = { kind: 4, id: this.id, offset: this.next, sha256: sha256(data), data };
        this.link.sendEphemeral(encodeFileMessage(message), { type: FILE_MESSAGE_TYPE, priority: LOW });
        this.next = end;
        this.report(this.progress());
        while (this.link.bufferedAmount() > 4 << 20) await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      this.pumping = false;
    }
  }
}
