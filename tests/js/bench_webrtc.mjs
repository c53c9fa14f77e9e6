// Browser figures for webrtc_bench, measured in headless Chromium:
//   channel: Chromium to Chromium data channel throughput on this machine: two RTCPeerConnections
//            in one page (loopback), one reliable ordered channel, BYTES in 64 KiB messages paced by
//            bufferedAmountLowThreshold; MB/s from the first send to the last byte received.
//   join:    two pages with the browser peer: bob joins a room at the signaling server where alice
//            waits; alice offers bob a data channel, runs the Noise link and says "hi"; ms from
//            bob's join to the message (median of ROUNDS).
// Prints one JSON object; exits 77 when Chromium cannot start.
// Usage: node bench_webrtc.mjs channel BYTES | join SIGNAL_URL ROUNDS
import { fileURLToPath } from "node:url";

import { launchBrowser, servePages } from "./lib/browser.mjs";

const [mode, ...args] = process.argv.slice(2);
const bundle = fileURLToPath(new URL("../../web/dist/peer/hyphae-peer.js", import.meta.url));
const { server, base } = await servePages({
  "/": { type: "text/html", body: '<!doctype html><title>bench</title><script type="module">import * as hyphae from "/hyphae-peer.js"; window.hyphae = hyphae; window.ready = true;</script>' },
  "/hyphae-peer.js": { type: "text/javascript", file: bundle },
});
const browser = await launchBrowser();
const out = {};
try {
  if (mode === "channel") {
    const page = await browser.newPage();
    await page.goto(base + "/");
    await page.waitForFunction(() => window.ready === true);
    out.bytes = Number(args[0]);
    out.seconds = await page.evaluate(async (total) => {
      const a = new RTCPeerConnection(), b = new RTCPeerConnection();
      a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
      b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
      const dc = a.createDataChannel("bench", { ordered: true });
      const received = new Promise((resolve) => {
        b.ondatachannel = (e) => {
          let got = 0;
          e.channel.binaryType = "arraybuffer";
          e.channel.onmessage = (m) => {
            got += m.data.byteLength;
            if (got >= total) resolve(performance.now());
          };
        };
      });
      await a.setLocalDescription(await a.createOffer());
      await b.setRemoteDescription(a.localDescription);
      await b.setLocalDescription(await b.createAnswer());
      await a.setRemoteDescription(b.localDescription);
      await new Promise((r) => (dc.onopen = r));
      const chunk = new Uint8Array(65536);
      dc.bufferedAmountLowThreshold = 1 << 20;
      const start = performance.now();
      for (let sent = 0; sent < total; sent += chunk.length) {
        if (dc.bufferedAmount > 4 << 20) await new Promise((r) => (dc.onbufferedamountlow = r));
        dc.send(chunk);
      }
      const end = await received;
      a.close();
      b.close();
      return (end - start) / 1000;
    }, out.bytes);
    out.mbps = out.bytes / out.seconds / 1e6;
  } else if (mode === "join") {
    const [url, roundsText] = args;
    const rounds = Number(roundsText ?? "5");
    const alice = await browser.newPage(), bob = await browser.newPage();
    for (const p of [alice, bob]) {
      await p.goto(base + "/");
      await p.waitForFunction(() => window.ready === true);
    }
    out.ms = [];
    for (let round = 0; round < rounds; round++) {
      const room = "bench-" + round;
      // Alice waits in the room and greets whoever joins.
      await alice.evaluate(async ({ url, room }) => {
        const { Identity, SignalingClient, RtcConnector, PeerLink, peerIdFromText } = window.hyphae;
        const me = Identity.generate();
        const signaling = await SignalingClient.connect(url, me);
        const rtc = new RtcConnector(signaling);
        const previous = signaling.onMessage;
        signaling.onMessage = (m) => {
          previous(m);
          if (m.type === "PEER_JOINED" && m.room === room)
            rtc.dial(m.deviceId).then(async (channel) => {
              const link = await PeerLink.open(channel, me, { initiator: true, expectedRemote: peerIdFromText(m.deviceId) });
              await link.send(new TextEncoder().encode("hi"));
            });
        };
        await signaling.join(room, { kind: "browser" });
      }, { url, room });
      const ms = await bob.evaluate(async ({ url, room }) => {
        const { Identity, SignalingClient, RtcConnector, PeerLink, peerIdFromText } = window.hyphae;
        const start = performance.now();
        const me = Identity.generate();
        const signaling = await SignalingClient.connect(url, me);
        const rtc = new RtcConnector(signaling);
        const first = new Promise((resolve) => {
          rtc.onChannel = async (channel, from) => {
            const link = await PeerLink.open(channel, me, { initiator: false, expectedRemote: peerIdFromText(from) });
            link.onMessage = () => resolve(performance.now());
          };
        });
        await signaling.join(room, { kind: "browser" });
        return (await first) - start;
      }, { url, room });
      out.ms.push(ms);
    }
  }
} catch (e) {
  out.error = String(e.message || e);
}
console.log(JSON.stringify(out));
await browser.close();
server.close();
process.exit(out.error ? 1 : 0);
