// Noise_XX_25519_ChaChaPoly_SHA256 (the Noise Protocol Framework, revision 34) with libp2p's
// handshake payload: the identity key signs "noise-libp2p-static-key:" || the X25519 static key, so
// each side proves its PeerId. Empty prologue; nonces are 4 zero bytes then a 64-bit little-endian
// counter. Primitives from @noble (X25519, ChaCha20-Poly1305, SHA-256, HMAC).
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { x25519, ed25519 } from "@noble/curves/ed25519.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";

import { concat, equal, utf8 } from "./bytes.js";
import { Identity, keyOfPeerId, peerIdFromKey } from "./identity.js";

const PROTOCOL_NAME = utf8("Noise_XX_25519_ChaChaPoly_SHA256"); // exactly 32 bytes: h = name
const STATIC_KEY_DOMAIN = utf8("noise-libp2p-static-key:");
const TAG = 16;

function nonceBytes(n: bigint): Uint8Array {
  const out = new Uint8Array(12);
  new DataView(out.buffer).setBigUint64(4, n, true);
  return out;
}

export class CipherState {
  private n = 0n;
  constructor(private readonly key: Uint8Array) {}
  encrypt(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const out = chacha20poly1305(this.key, nonceBytes(this.n), ad).encrypt(plaintext);
    this.n += 1n;
    return out;
  }
  decrypt(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    const out = chacha20poly1305(this.key, nonceBytes(this.n), ad).decrypt(ciphertext); // throws on a bad tag
    this.n += 1n;
    return out;
  }
}

function hkdf2(ck: Uint8Array, ikm: Uint8Array): [Uint8Array, Uint8Array] {
  const temp = hmac(sha256, ck, ikm);
  const out1 = hmac(sha256, temp, Uint8Array.of(1));
  const out2 = hmac(sha256, temp, concat(out1, Uint8Array.of(2)));
  return [out1, out2];
}

class SymmetricState {
  h: Uint8Array = PROTOCOL_NAME.slice();
  ck: Uint8Array = PROTOCOL_NAME.slice();
  private cipher: CipherState | null = null;

  mixHash(data: Uint8Array): void {
    this.h = sha256(concat(this.h, data));
  }
  mixKey(ikm: Uint8Array): void {
    const [ck, k] = hkdf2(this.ck, ikm);
    this.ck = ck;
    this.cipher = new CipherState(k);
  }
  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const out = this.cipher ? this.cipher.encrypt(this.h, plaintext) : plaintext;
    this.mixHash(out);
    return out;
  }
  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const out = this.cipher ? this.cipher.decrypt(this.h, ciphertext) : ciphertext;
    this.mixHash(ciphertext);
    return out;
  }
  split(): [CipherState, CipherState] {
    const [k1, k2] = hkdf2(this.ck, new Uint8Array(0));
    return [new CipherState(k1), new CipherState(k2)];
  }
  get hasKey(): boolean {
    return this.cipher !== null;
  }
}

// libp2p's NoiseHandshakePayload { identity_key = 1 (protobuf PublicKey), identity_sig = 2 }.
export function encodeHandshakePayload(identity: Identity, noiseStatic: Uint8Array): Uint8Array {
  const sig = identity.sign(concat(STATIC_KEY_DOMAIN, noiseStatic));
  const key = concat(Uint8Array.of(0x08, 0x01, 0x12, 0x20), identity.publicKey);
  return concat(Uint8Array.of(0x0a, key.length), key, Uint8Array.of(0x12, sig.length), sig);
}

function readVarint(data: Uint8Array, at: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10 && at + i < data.length; i++) {
    const b = data[at + i];
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return [value, i + 1];
    scale *= 0x80;
  }
  throw new Error("handshake payload: bad varint");
}

// Reads the protobuf fields we need (any order, unknown fields skipped) and checks the signature
// over the remote's static key. Returns the remote PeerId.
export function verifyHandshakePayload(payload: Uint8Array, remoteStatic: Uint8Array): Uint8Array {
  let keyProto: Uint8Array | null = null;
  let sig: Uint8Array | null = null;
  const fields = (data: Uint8Array, visit: (field: number, value: Uint8Array | number) => void) => {
    let at = 0;
    while (at < data.length) {
      const [tag, n] = readVarint(data, at);
      at += n;
      const field = Math.floor(tag / 8);
      const wire = tag & 7;
      if (field === 0) throw new Error("handshake payload: field 0");
      if (wire === 0) {
        const [v, m] = readVarint(data, at);
        at += m;
        visit(field, v);
      } else if (wire === 2) {
        const [len, m] = readVarint(data, at);
        at += m;
        if (at + len > data.length) throw new Error("handshake payload: truncated");
        visit(field, data.subarray(at, at + len));
        at += len;
      } else if (wire === 1) at += 8;
      else if (wire === 5) at += 4;
      else throw new Error("handshake payload: wire type " + wire);
      if (at > data.length) throw new Error("handshake payload: truncated");
    }
  };
  fields(payload, (field, value) => {
    if (field === 1 && value instanceof Uint8Array) keyProto = value;
    if (field === 2 && value instanceof Uint8Array) sig = value;
  });
  if (!keyProto || !sig) throw new Error("handshake payload: missing key or signature");
  let keyType = -1;
  let key: Uint8Array | null = null;
  fields(keyProto, (field, value) => {
    if (field === 1 && typeof value === "number") keyType = value;
    if (field === 2 && value instanceof Uint8Array) key = value;
  });
  if (keyType !== 1 || !key || (key as Uint8Array).length !== 32) throw new Error("handshake payload: not an Ed25519 key");
  if ((sig as Uint8Array).length !== 64) throw new Error("handshake payload: signature is not 64 bytes");
  if (!ed25519.verify(sig as Uint8Array, concat(STATIC_KEY_DOMAIN, remoteStatic), key))
    throw new Error("handshake: key does not match the peer id");
  return peerIdFromKey(key);
}

// One side of an XX handshake. writeMessage/readMessage alternate as the pattern says; after the
// third message `done` is true and `split()` gives the transport ciphers.
export class NoiseXX {
  private readonly ss = new SymmetricState();
  private readonly s = x25519.utils.randomSecretKey();
  private readonly sPub: Uint8Array;
  private e: Uint8Array | null = null;
  private re: Uint8Array | null = null;
  private rs: Uint8Array | null = null;
  private step = 0;
  remotePeerId: Uint8Array | null = null;

  constructor(
    readonly initiator: boolean,
    private readonly identity: Identity,
    private readonly expectedRemote: Uint8Array | null,
  ) {
    this.sPub = x25519.getPublicKey(this.s);
    this.ss.mixHash(new Uint8Array(0)); // empty prologue
  }

  get done(): boolean {
    return this.step === 3;
  }
  // Whether the next message is ours to write.
  get ourTurn(): boolean {
    return this.initiator ? this.step % 2 === 0 : this.step % 2 === 1;
  }

  writeMessage(): Uint8Array {
    if (!this.ourTurn || this.done) throw new Error("noise: not our turn");
    let out: Uint8Array;
    if (this.step === 0) {
      this.e = x25519.utils.randomSecretKey();
      const ePub = x25519.getPublicKey(this.e);
      this.ss.mixHash(ePub);
      out = concat(ePub, this.ss.encryptAndHash(new Uint8Array(0)));
    } else if (this.step === 1) {
      this.e = x25519.utils.randomSecretKey();
      const ePub = x25519.getPublicKey(this.e);
      this.ss.mixHash(ePub);
      this.ss.mixKey(x25519.getSharedSecret(this.e, this.re!));
      const sealedS = this.ss.encryptAndHash(this.sPub);
      this.ss.mixKey(x25519.getSharedSecret(this.s, this.re!));
      out = concat(ePub, sealedS, this.ss.encryptAndHash(encodeHandshakePayload(this.identity, this.sPub)));
    } else {
      const sealedS = this.ss.encryptAndHash(this.sPub);
      this.ss.mixKey(x25519.getSharedSecret(this.s, this.re!));
      out = concat(sealedS, this.ss.encryptAndHash(encodeHandshakePayload(this.identity, this.sPub)));
    }
    this.step += 1;
    return out;
  }

  readMessage(message: Uint8Array): void {
    if (this.ourTurn || this.done) throw new Error("noise: unexpected handshake message");
    if (this.step === 0) {
      if (message.length < 32) throw new Error("noise: short message 1");
      this.re = message.slice(0, 32);
      this.ss.mixHash(this.re);
      this.ss.decryptAndHash(message.subarray(32));
    } else if (this.step === 1) {
      if (message.length < 32 + 32 + TAG + TAG) throw new Error("noise: short message 2");
      this.re = message.slice(0, 32);
      this.ss.mixHash(this.re);
      this.ss.mixKey(x25519.getSharedSecret(this.e!, this.re));
      this.rs = this.ss.decryptAndHash(message.subarray(32, 32 + 32 + TAG));
      this.ss.mixKey(x25519.getSharedSecret(this.e!, this.rs));
      this.acceptPayload(this.ss.decryptAndHash(message.subarray(32 + 32 + TAG)));
    } else {
      if (message.length < 32 + TAG + TAG) throw new Error("noise: short message 3");
      this.rs = this.ss.decryptAndHash(message.subarray(0, 32 + TAG));
      this.ss.mixKey(x25519.getSharedSecret(this.e!, this.rs));
      this.acceptPayload(this.ss.decryptAndHash(message.subarray(32 + TAG)));
    }
    this.step += 1;
  }

  // [send, receive] ciphers for this side.
  split(): [CipherState, CipherState] {
    if (!this.done) throw new Error("noise: handshake not finished");
    const [c1, c2] = this.ss.split();
    return this.initiator ? [c1, c2] : [c2, c1];
  }

  private acceptPayload(payload: Uint8Array): void {
    const remote = verifyHandshakePayload(payload, this.rs!);
    if (this.expectedRemote && !equal(remote, this.expectedRemote))
      throw new Error("handshake: the remote is not the peer we dialed");
    if (keyOfPeerId(remote) === null) throw new Error("handshake: unusable PeerId");
    this.remotePeerId = remote;
  }
}
