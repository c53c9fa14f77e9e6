// A browser-side Hyphae peer (web/src/peer, compiled to web/build/peer) run by Node.js with its
// built-in WebSocket (undici): dials a node's WebSocket transport, proves its PeerId in the Noise
// XX handshake, sends a durable message and waits for the node's ack, then waits for a message from
// the node and answers "bye". Prints one JSON object with what it saw; exits 0 on success.
// Usage: node --experimental-websocket peer_ws_client.mjs WS_URL NODE_PEER_ID [COUNT]
import { Identity, PeerLink, peerIdFromText, webSocketChannel } from "../../web/build/peer/index.js";

const [url, nodePeerId, countText] = process.argv.slice(2);
const count = Number(countText ?? "1");
const seen = { acked: [], messages: [], errors: [] };
const timer = setTimeout(() => finish(1, "timed out"), 30_000);

function finish(code, error) {
  if (error) seen.errors.push(error);
  clearTimeout(timer);
  console.log(JSON.stringify(seen));
  process.exit(code);
}

try {
  const identity = Identity.generate();
  seen.peerId = identity.peerIdText;
  const channel = await webSocketChannel(new WebSocket(url));
  const link = await PeerLink.open(channel, identity, { initiator: true, expectedRemote: peerIdFromText(nodePeerId) });
  seen.remote = link.remote;
  link.onMessage = (m) => {
    const text = new TextDecoder().decode(m.payload);
    seen.messages.push({ id: m.id, from: m.from, payload: text, durable: m.durable });
    if (text === "bye") {
      link.close("done");
      setTimeout(() => finish(0), 100);
    }
  };
  const sends = [];
  for (let i = 0; i < count; i++) sends.push(link.send(new TextEncoder().encode(i === 0 ? "hello from a browser peer" : "message " + i)));
  seen.acked = await Promise.all(sends);
} catch (e) {
  finish(1, String(e && e.message ? e.message : e));
}
