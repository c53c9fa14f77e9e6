// The messenger in two headless Chromium contexts (two browsers, two PeerIds), each logged in to
// the node's web app with its own one-time link: both join a room through `hyphae signal`, see
// each other and the node (whose WebRTC transport joined the room), chat both ways, write to the
// node directly and get an answer from the node's user (through its API), and alice drops a 20 MiB file on bob: both progress bars reach 100 % and the file
// bob can download has the SHA-256 alice computed. A screenshot of alice's view goes to OUT_DIR.
// Prints one JSON object; exits 0 on success, 77 when Chromium cannot start.
// Then files between a browser and the node, both ways: alice drops 3 MiB on the node (which accepts
// by configuration), and the node's user offers alice FILE_FOR_ALICE through the node's API.
// Usage: node messenger.mjs LOGIN_URL_A LOGIN_URL_B NODE_PEER_ID OUT_DIR ROOM FILE_FOR_ALICE
import { launchBrowser, watchConsole } from "./lib/browser.mjs";

const [urlA, urlB, node, outDir, room, fileForAlice] = process.argv.slice(2);
const FILE_BYTES = 20 * 1024 * 1024;
const browser = await launchBrowser();
const errors = [];
const seen = {};
let code = 1;

async function open(url, name) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  watchConsole(page, errors);
  await page.goto(url);
  await page.waitForSelector('[data-testid="peer-id"]', { timeout: 10_000 });
  await page.click('header nav button:has-text("Rooms")');
  await page.waitForSelector('[data-testid="join-form"]');
  // The node's own signaling server is filled in from its WebRTC transport.
  await page.waitForFunction(() => document.querySelector('[data-testid="join-form"] input[name="signal"]').value.startsWith("ws://"), null, { timeout: 10_000 });
  await page.fill('[data-testid="join-form"] input[name="room"]', room);
  await page.fill('[data-testid="join-form"] input[name="name"]', name);
  return page;
}

const connected = (page, who) => page.waitForSelector(`[data-testid="member-state-${who}"]:has-text("connected")`, { timeout: 20_000 });
const said = (page, text) => page.waitForSelector(`[data-testid="room-chat"] li:has-text("${text}")`, { timeout: 10_000 });

try {
  const alice = await open(urlA, "alice");
  const bob = await open(urlB, "bob");
  await alice.click('[data-testid="join-form"] button');
  await connected(alice, node);
  const joined = Date.now();
  await bob.click('[data-testid="join-form"] button');
  await connected(bob, "alice");
  await connected(alice, "bob");
  seen.bobLinkedMs = Date.now() - joined;
  await connected(bob, node);
  seen.rtt = await alice.textContent('[data-member="bob"] td:nth-child(4)');

  await alice.fill('[data-testid="room-draft"]', "hello bob");
  await alice.press('[data-testid="room-draft"]', "Enter");
  await said(bob, "hello bob");
  await bob.fill('[data-testid="room-draft"]', "hi alice");
  await bob.press('[data-testid="room-draft"]', "Enter");
  await said(alice, "hi alice");

  // A direct message to the node: it lands in the node's inbox.
  await alice.click(`[data-testid="member-state-${node}"]`);
  await alice.fill('[data-testid="room-draft"]', "hello node");
  await alice.press('[data-testid="room-draft"]', "Enter");

  // The node's user (bob's page is logged in to the node too) writes to alice's PeerId through the
  // node's API: the node carries it over the link alice opened.
  const aliceId = await alice.getAttribute('[data-testid="self-id"]', "data-peer");
  const csrf = await bob.evaluate(async () => (await (await fetch("/v1/app/session")).json()).csrf_token);
  const posted = await bob.request.post(new URL(bob.url()).origin + "/v1/messages", {
    headers: { "X-CSRF-Token": csrf },
    data: { to: aliceId, payload: "hello from the node's user" },
  });
  seen.nodeUserStatus = posted.status();
  await said(alice, "hello from the node's user");

  // 20 MiB dropped on the chat with bob selected.
  await alice.click(`[data-testid="member-state-${node}"]`); // unselect the node
  await alice.click('[data-member="bob"]');
  const dataTransfer = await alice.evaluateHandle(async (size) => {
    const bytes = new Uint8Array(size);
    for (let at = 0; at < size; at += 65536) crypto.getRandomValues(bytes.subarray(at, Math.min(size, at + 65536)));
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    window.sentSha256 = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], "big.bin", { type: "application/octet-stream" }));
    return dt;
  }, FILE_BYTES);
  const dropped = Date.now();
  await alice.dispatchEvent('[data-testid="dropzone"]', "drop", { dataTransfer });
  await bob.waitForSelector('[data-testid="download"]', { timeout: 60_000 });
  seen.fileMs = Date.now() - dropped;
  await alice.waitForSelector('[data-testid="transfers"] li[data-direction="out"][data-state="done"]', { timeout: 20_000 });
  seen.sentSha256 = await alice.evaluate(() => window.sentSha256);
  seen.progressIn = await bob.$eval('[data-testid="progress-in"]', (p) => [p.value, p.max]);
  seen.progressOut = await alice.$eval('[data-testid="progress-out"]', (p) => [p.value, p.max]);
  seen.received = await bob.evaluate(async () => {
    const link = document.querySelector('[data-testid="download"]');
    const blob = await (await fetch(link.href)).blob();
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
    return { name: link.getAttribute("download"), size: blob.size, announced: link.dataset.sha256, sha256: Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("") };
  });
  await alice.screenshot({ path: outDir + "/messenger.png" });

  // A browser to the node: 3 MiB dropped with the node selected.
  await alice.click('[data-member="bob"]'); // unselect bob
  await alice.click(`[data-testid="member-state-${node}"]`);
  const toNode = await alice.evaluateHandle(async (size) => {
    const bytes = new Uint8Array(size);
    for (let at = 0; at < size; at += 65536) crypto.getRandomValues(bytes.subarray(at, Math.min(size, at + 65536)));
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    window.toNodeSha256 = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], "to-node.bin"));
    return dt;
  }, 3 * 1024 * 1024);
  await alice.dispatchEvent('[data-testid="dropzone"]', "drop", { dataTransfer: toNode });
  await alice.waitForSelector('[data-testid="transfers"] li[data-direction="out"][data-state="done"]:has-text("to-node.bin")', { timeout: 30_000 });
  seen.toNodeSha256 = await alice.evaluate(() => window.toNodeSha256);

  // The node to a browser: the node's user offers a file on the node's disk to alice.
  const offered = await bob.request.post(new URL(bob.url()).origin + "/v1/files", {
    headers: { "X-CSRF-Token": csrf },
    data: { to: aliceId, path: fileForAlice },
  });
  seen.offerStatus = offered.status();
  const link = await alice.waitForSelector('[data-testid="transfers"] li[data-direction="in"]:has-text("for-alice.bin") a[data-testid="download"]', { timeout: 30_000 });
  seen.fromNode = await alice.evaluate(async (a) => {
    const blob = await (await fetch(a.href)).blob();
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
    return { size: blob.size, sha256: Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("") };
  }, link);
  code = 0;
} catch (e) {
  errors.push(String(e.message || e));
}
seen.errors = errors;
console.log(JSON.stringify(seen));
await browser.close();
process.exit(code);
