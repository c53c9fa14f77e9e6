// Byte helpers shared by the peer modules: concatenation, big-endian integers and uvarints (the
// minimal LEB128 encoding Hyphae's wire formats use).

export function concat(...parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function fromUtf8(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function putU64(out: Uint8Array, at: number, value: bigint): void {
  new DataView(out.buffer, out.byteOffset, out.byteLength).setBigUint64(at, value, false);
}

export function getU64(data: Uint8Array, at: number): bigint {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getBigUint64(at, false);
}

export function encodeUvarint(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError("uvarint out of range");
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

// The value and the bytes it took, or null when `data` ends inside it. Throws on a non-minimal or
// over-long encoding (the wire formats accept only minimal ones).
export function decodeUvarint(data: Uint8Array, at: number): { value: number; size: number } | null {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 8; i++) {
    if (at + i >= data.length) return null;
    const b = data[at + i];
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) {
      if (i > 0 && b === 0) throw new Error("malformed: non-minimal uvarint");
      if (!Number.isSafeInteger(value)) throw new Error("malformed: uvarint too large");
      return { value, size: i + 1 };
    }
    scale *= 0x80;
  }
  throw new Error("malformed: uvarint too long");
}
