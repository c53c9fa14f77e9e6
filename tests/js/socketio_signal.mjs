// Drives `hyphae signal` with the npm socket.io-client package, as a browser app would: two devices
// connect over Socket.IO v4 (WebSocket transport), answer the server's challenge with an Ed25519
// signature by their PeerId's key, join a room and see each other, and relay an offer and an answer.
// Usage: node socketio_signal.mjs URL PEER_A KEY_A PEER_B KEY_B
//   KEY_*: the libp2p private key protobuf of the device, hex (08 01 12 40 || seed || public key).
// Prints one JSON line with what each side saw; exits 0 when the whole exchange happened.
import { createPrivateKey, sign } from "node:crypto";
import { io } from "socket.io-client";

const [url, peerA, keyA, peerB, keyB] = process.argv.slice(2);
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

function signer(keyHex) {
  const seed = Buffer.from(keyHex, "hex").subarray(4, 36);
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: "der", type: "pkcs8" });
  return (nonce, deviceId) => sign(null, Buffer.from("hyphae-signal-v1" + nonce + deviceId), key).toString("base64");
}

function device(deviceId, keyHex) {
  const socket = io(url, { transports: ["websocket"], auth: { deviceId }, reconnection: false });
  const sign = signer(keyHex);
  socket.on("challenge", ({ nonce }) => socket.emit("auth", { signature: sign(nonce, deviceId) }));
  return socket;
}

const seen = { aliceRoom: null, bobRoom: null, peerJoined: null, offer: null, answer: null, errors: [] };
const timer = setTimeout(() => {
  console.log(JSON.stringify({ ok: false, reason: "timeout", seen }));
  process.exit(1);
}, 10000);

const alice = device(peerA, keyA);
alice.on("signal-error", (e) => seen.errors.push(e));
alice.on("connect_error", (e) => seen.errors.push(String(e)));
alice.on("authenticated", () => alice.emit("join", { room: "lobby", capabilities: { webrtc: true } }));
alice.on("room", (room) => {
  seen.aliceRoom = room;
  const bob = device(peerB, keyB);
  bob.on("signal-error", (e) => seen.errors.push(e));
  bob.on("authenticated", () => bob.emit("join", { room: "lobby", capabilities: { relay: true } }));
  bob.on("room", (r) => (seen.bobRoom = r));
  bob.on("offer", (m) => {
    seen.offer = m;
    bob.emit("answer", { to: m.from, payload: { type: "answer", sdp: "v=0 answer" } });
  });
  alice.bob = bob;
});
alice.on("peer-joined", (p) => {
  seen.peerJoined = p;
  alice.emit("offer", { to: p.deviceId, payload: { type: "offer", sdp: "v=0 offer" } });
});
alice.on("answer", (m) => {
  seen.answer = m;
  clearTimeout(timer);
  console.log(JSON.stringify({ ok: true, seen }));
  alice.bob.close();
  alice.close();
  process.exit(0);
});
