// A peer's identity: an Ed25519 key pair and its libp2p PeerId (the identity multihash of the
// protobuf PublicKey, 38 bytes; in text base58btc, "12D3KooW...").
import { ed25519 } from "@noble/curves/ed25519.js";
import { base58 } from "@scure/base";

import { concat, equal } from "./bytes.js";

const PEER_ID_PREFIX = Uint8Array.from([0x00, 0x24, 0x08, 0x01, 0x12, 0x20]);

export class Identity {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly peerId: Uint8Array;

  private constructor(secretKey: Uint8Array) {
    this.secretKey = secretKey;
    this.publicKey = ed25519.getPublicKey(secretKey);
    this.peerId = peerIdFromKey(this.publicKey);
  }

  static generate(): Identity {
    return new Identity(ed25519.utils.randomSecretKey());
  }

  static fromSecretKey(secretKey: Uint8Array): Identity {
    if (secretKey.length !== 32) throw new Error("an Ed25519 secret key is 32 bytes");
    return new Identity(secretKey);
  }

  get peerIdText(): string {
    return base58.encode(this.peerId);
  }

  sign(message: Uint8Array): Uint8Array {
    return ed25519.sign(message, this.secretKey);
  }
}

export function peerIdFromKey(ed25519PublicKey: Uint8Array): Uint8Array {
  return concat(PEER_ID_PREFIX, ed25519PublicKey);
}

// The Ed25519 key inside an identity-multihash PeerId, or null for another kind.
export function keyOfPeerId(peerId: Uint8Array): Uint8Array | null {
  if (peerId.length !== 38 || !equal(peerId.subarray(0, 6), PEER_ID_PREFIX)) return null;
  return peerId.subarray(6);
}

export function peerIdToText(peerId: Uint8Array): string {
  return base58.encode(peerId);
}

export function peerIdFromText(text: string): Uint8Array {
  const bytes = base58.decode(text);
  if (keyOfPeerId(bytes) === null) throw new Error("not an Ed25519 PeerId: " + text);
  return bytes;
}
