// The browser peer (web/dist/peer/hyphae-peer.js) in headless Chromium: a page dials a node, with
// the browser's own WebSocket to the node's WebSocket transport (mode "ws", URL the node's ws://
// listener) or with an RTCDataChannel negotiated through `hyphae signal` (mode "webrtc", URL the
// signaling server), proves its PeerId in the Noise XX handshake, sends COUNT durable messages
// (each acked), then waits for "bye" from the node.
// Prints one JSON object; exits 0 on success, 77 when Chromium cannot start.
// Usage: node browser_peer.mjs ws|webrtc URL NODE_PEER_ID [COUNT]
import { fileURLToPath } from "node:url";

import { launchBrowser, servePages, watchConsole } from "./lib/browser.mjs";

const [mode, url, nodePeerId, countText] = process.argv.slice(2);
const count = Number(countText ?? "1");
const bundle = fileURLToPath(new URL("../../web/dist/peer/hyphae-peer.js", import.meta.url));
const { server, base } = await servePages({
  "/": {
    type: "text/html",
    body: '<!doctype html><title>peer</title><script type="module">import * as hyphae from "/hyphae-peer.js"; window.hyphae = hyphae; window.peerReady = true;</script>',
  },
  "/hyphae-peer.js": { type: "text/javascript", file: bundle },
});
const browser = await launchBrowser();
const errors = [];
let seen = {};
let code = 1;
try {
  const page = await browser.newPage();
  watchConsole(page, errors);
  await page.goto(base + "/");
  await page.waitForFunction(() => window.peerReady === true, null, { timeout: 10_000 });
  seen = await page.evaluate(
    async ({ mode, url, nodePeerId, count }) => {
      const { Identity, PeerLink, peerIdFromText, webSocketChannel, SignalingClient, RtcConnector } = window.hyphae;
      const seen = { acked: [], messages: [], errors: [] };
      const identity = Identity.generate();
      seen.peerId = identity.peerIdText;
      seen.userAgent = navigator.userAgent;
      let channel;
      if (mode === "webrtc") {
        const signaling = await SignalingClient.connect(url, identity);
        const started = performance.now();
        channel = await new RtcConnector(signaling).dial(nodePeerId);
        seen.channelMs = performance.now() - started;
      } else {
        channel = await webSocketChannel(new WebSocket(url));
      }
      const link = await PeerLink.open(channel, identity, { initiator: true, expectedRemote: peerIdFromText(nodePeerId) });
      seen.remote = link.remote;
      const bye = new Promise((resolve) => {
        link.onMessage = (m) => {
          const text = new TextDecoder().decode(m.payload);
          seen.messages.push({ id: m.id, from: m.from, payload: text, durable: m.durable });
          if (text === "bye") resolve();
        };
      });
      const sends = [];
      for (let i = 0; i < count; i++)
        sends.push(link.send(new TextEncoder().encode(i === 0 ? "hello from a browser peer" : "message " + i)));
      seen.acked = await Promise.all(sends);
      await Promise.race([bye, new Promise((_, reject) => setTimeout(() => reject(new Error("no bye")), 20_000))]);
      link.close("done");
      return seen;
    },
    { mode, url, nodePeerId, count },
  );
  code = 0;
} catch (e) {
  errors.push(String(e.message || e));
}
seen.errors = errors;
console.log(JSON.stringify(seen));
await browser.close();
server.close();
process.exit(code);
