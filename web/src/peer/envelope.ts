// Hyphae envelopes, version 1 (the node's wire format): a 40-byte header (version, flags, 16-byte
// id, timestamp, nonce, ttl, priority, type), the addresses unless implied, the payload, and an
// Ed25519 signature when signed. On a link, unsigned envelopes leave the addresses implied.
import { ed25519 } from "@noble/curves/ed25519.js";

import { concat, decodeUvarint, encodeUvarint, getU64, putU64, utf8 } from "./bytes.js";
import { keyOfPeerId } from "./identity.js";

export const FLAG_SIGNED = 0x01;
export const FLAG_SEALED = 0x02;
export const FLAG_ADDRESSES_IMPLIED = 0x04;
export const FLAG_ACK_REQUESTED = 0x08;
const SIGNING_DOMAIN = utf8("hyphae-envelope-v1:");
const MAX_PAYLOAD = 1 << 20;

export interface Envelope {
  flags: number;
  id: Uint8Array; // 16 bytes
  timestampMs: bigint;
  nonce: bigint;
  ttlS: number;
  priority: number; // 0 emergency .. 3 low
  type: number;
  from: Uint8Array | null;
  to: Uint8Array | null;
  payload: Uint8Array;
  signature: Uint8Array | null;
}

// 48 bits of Unix milliseconds, then 80 random bits: time-ordered, as the node makes them.
export function newMessageId(nowMs: number = Date.now()): Uint8Array {
  const id = crypto.getRandomValues(new Uint8Array(16));
  let t = nowMs;
  for (let i = 5; i >= 0; i--) {
    id[i] = t % 256;
    t = Math.floor(t / 256);
  }
  return id;
}

function randomU64(): bigint {
  const b = crypto.getRandomValues(new Uint8Array(8));
  return new DataView(b.buffer).getBigUint64(0, false);
}

// An unsigned envelope for a direct link (addresses implied), asking for an ack.
export function linkEnvelope(payload: Uint8Array, options: { type?: number; priority?: number; ttlS?: number } = {}): Envelope {
  return {
    flags: FLAG_ADDRESSES_IMPLIED | FLAG_ACK_REQUESTED,
    id: newMessageId(),
    timestampMs: BigInt(Date.now()),
    nonce: randomU64(),
    ttlS: options.ttlS ?? 0,
    priority: options.priority ?? 2,
    type: options.type ?? 0,
    from: null,
    to: null,
    payload,
    signature: null,
  };
}

function encodeBody(env: Envelope, flags: number, withAddresses: boolean): Uint8Array {
  const header = new Uint8Array(40);
  header[0] = 1;
  header[1] = flags;
  header.set(env.id, 2);
  putU64(header, 18, env.timestampMs);
  putU64(header, 26, env.nonce);
  new DataView(header.buffer).setUint32(34, env.ttlS, false);
  header[38] = env.priority;
  header[39] = env.type;
  const parts: Uint8Array[] = [header];
  if (withAddresses) {
    for (const a of [env.from, env.to]) {
      const bytes = a ?? new Uint8Array(0);
      parts.push(encodeUvarint(bytes.length), bytes);
    }
  }
  parts.push(encodeUvarint(env.payload.length), env.payload);
  return concat(...parts);
}

export function encodeEnvelope(env: Envelope): Uint8Array {
  const body = encodeBody(env, env.flags, (env.flags & FLAG_ADDRESSES_IMPLIED) === 0);
  return env.signature && env.flags & FLAG_SIGNED ? concat(body, env.signature) : body;
}

// Decodes one envelope from the front of `data`; throws on malformed input.
export function decodeEnvelope(data: Uint8Array): { envelope: Envelope; consumed: number } {
  if (data.length < 40) throw new Error("envelope: truncated");
  if (data[0] !== 1) throw new Error("envelope: unsupported version " + data[0]);
  const flags = data[1];
  if (flags & 0xf0) throw new Error("envelope: unknown flags");
  if (flags & FLAG_SIGNED && flags & FLAG_ADDRESSES_IMPLIED) throw new Error("envelope: signed with implied addresses");
  if (data[38] > 3) throw new Error("envelope: priority");
  let at = 40;
  const bytesField = (max: number): Uint8Array => {
    const len = decodeUvarint(data, at);
    if (!len) throw new Error("envelope: truncated");
    if (len.value > max) throw new Error("envelope: too large");
    at += len.size;
    if (at + len.value > data.length) throw new Error("envelope: truncated");
    const out = data.subarray(at, at + len.value);
    at += len.value;
    return out;
  };
  let from: Uint8Array | null = null;
  let to: Uint8Array | null = null;
  if (!(flags & FLAG_ADDRESSES_IMPLIED)) {
    const f = bytesField(64);
    const t = bytesField(64);
    from = f.length ? f : null;
    to = t.length ? t : null;
  }
  const payload = bytesField(MAX_PAYLOAD);
  let signature: Uint8Array | null = null;
  if (flags & FLAG_SIGNED) {
    if (at + 64 > data.length) throw new Error("envelope: truncated");
    signature = data.subarray(at, at + 64);
    at += 64;
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return {
    envelope: {
      flags,
      id: data.slice(2, 18),
      timestampMs: getU64(data, 18),
      nonce: getU64(data, 26),
      ttlS: view.getUint32(34, false),
      priority: data[38],
      type: data[39],
      from,
      to,
      payload,
      signature,
    },
    consumed: at,
  };
}

// Whether a signed envelope's signature verifies with the key inside `from`.
export function verifyEnvelope(env: Envelope): boolean {
  if (!env.signature || !env.from) return false;
  const key = keyOfPeerId(env.from);
  if (!key) return false;
  const signed = concat(SIGNING_DOMAIN, encodeBody(env, (env.flags | FLAG_SIGNED) & ~FLAG_ADDRESSES_IMPLIED, true));
  return ed25519.verify(env.signature, signed, key);
}
