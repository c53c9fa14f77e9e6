// Drives headless Chromium (Debian's /usr/bin/chromium, through playwright-core) against the
// C++ PeerConnection (webrtc_browser_peer): both directions of the offer, a DCEP channel
// {ordered, maxRetransmits 3, protocol 'p2p-messenger'}, strings and binaries both ways, a
// 200 KiB message, 1000 small ones in order, and 10 MiB each way for throughput.
//   node chromium_interop.mjs path/to/webrtc_browser_peer
// Signaling: the peer's JSON lines on its stdin/stdout; the page's through exposeFunction.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const peerBinary = process.argv[2];
if (!peerBinary) {
  console.error('usage: node chromium_interop.mjs path/to/webrtc_browser_peer');
  process.exit(2);
}
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const BULK_BYTES = 10 * 1024 * 1024;
const STEP_TIMEOUT_MS = 60000;
const page_html = readFileSync(new URL('./webrtc_page.html', import.meta.url));

// Chromium's flags. The fake-media ones are optional (FAKE_MEDIA=1): with a default route the
// host candidates are there without them.
// CHROMIUM_ARGS replaces the list (to see which flags matter).
const args = process.env.CHROMIUM_ARGS ? process.env.CHROMIUM_ARGS.split(' ') : ['--no-sandbox', '--headless=new',
  '--disable-gpu', '--disable-features=WebRtcHideLocalIpsWithMdns', '--allow-loopback-in-peer-connection'];
if (process.env.FAKE_MEDIA === '1') args.push('--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream');

// An event log that waits: next(pred) resolves with the first event matching pred.
class Events {
  constructor(name) { this.name = name; this.seen = []; this.waiters = []; }
  push(e) {
    this.seen.push(e);
    this.waiters = this.waiters.filter(({ pred, resolve }) => (pred(e) ? (resolve(e), false) : true));
  }
  next(pred, what, timeout = STEP_TIMEOUT_MS) {
    const found = this.seen.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: timed out waiting for ${what}`)), timeout);
      this.waiters.push({ pred, resolve: (e) => { clearTimeout(timer); resolve(e); } });
    });
  }
}

const checks = [];
function check(name, ok, detail = '') {
  checks.push({ name, ok });
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? ': ' + detail : ''}`);
}

async function scenario(browser, url, cppRole) {
  const browserRole = cppRole === 'offer' ? 'answer' : 'offer';
  const label = `C++ ${cppRole}s, Chromium ${browserRole}s`;
  console.log(`--- ${label}`);
  const cppEvents = new Events('c++');
  const pageEvents = new Events('chromium');

  const peer = spawn(peerBinary, [cppRole], { stdio: ['pipe', 'pipe', 'inherit'] });
  const toPeer = (m) => peer.stdin.write(JSON.stringify(m) + '\n');

  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.log(`[page console] ${m.text()}`); });
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));

  // Signals for the page go one at a time, in order (each waits for the last to settle), once
  // the page is loaded and started.
  let pageReady;
  let pageQueue = new Promise((resolve) => { pageReady = resolve; });
  const toPage = (m) => {
    pageQueue = pageQueue.then(() => page.evaluate((msg) => window.signal(msg), m))
      .catch((e) => console.log(`[signal ${m.type}] ${e.message.split('\n')[0]}`));
  };
  const signaling = new Set(['offer', 'answer', 'candidate', 'end-of-candidates']);
  let pageCandidates = 0, cppCandidates = 0;
  await page.exposeFunction('toNode', (m) => {
    if (signaling.has(m.type)) {
      if (m.type === 'candidate') {
        if (m.candidate === '') return toPeer({ type: 'end-of-candidates' });
        pageCandidates++;
        console.log(`  chromium candidate: ${m.candidate}`);
      }
      toPeer(m);
    } else {
      if (m.type === 'log') console.log(`  [page] ${m.text}`);
      pageEvents.push(m);
    }
  });
  createInterface({ input: peer.stdout }).on('line', (line) => {
    let m;
    try { m = JSON.parse(line); } catch { return console.log(`  [c++ ?] ${line}`); }
    if (signaling.has(m.type)) {
      if (m.type === 'candidate') {
        cppCandidates++;
        console.log(`  c++ candidate: ${m.candidate}`);
      }
      toPage(m);
    } else {
      if (['error', 'ignored-candidate', 'sctp-stats'].includes(m.type)) console.log(`  [c++] ${line}`);
      cppEvents.push(m);
    }
  });
  const exited = new Promise((resolve) => peer.on('exit', (code) => resolve(code)));

  let started = Date.now();
  try {
    await page.goto(url);
    started = Date.now();  // from the page's start(), page load left out
    await page.evaluate((role) => window.start(role), browserRole);
    pageReady();
    const [cppOpen, pageOpen] = await Promise.all([
      cppEvents.next((e) => e.type === 'open' && e.label === 'p2p-messenger', 'the C++ channel open'),
      pageEvents.next((e) => e.type === 'open', 'the page channel open'),
    ]);
    const connectMs = Date.now() - started;
    check(`${label}: connected and channel open`, true,
      `${connectMs} ms; candidates chromium ${pageCandidates}, c++ ${cppCandidates}`);
    const shape = (o) => o.label === 'p2p-messenger' && o.protocol === 'p2p-messenger' && o.ordered === true &&
      o.maxRetransmits === 3;
    check(`${label}: channel seen by C++ as p2p-messenger/ordered/maxRetransmits 3`, shape(cppOpen), JSON.stringify(cppOpen));
    check(`${label}: channel seen by Chromium as p2p-messenger/ordered/maxRetransmits 3 (in-band)`,
      shape(pageOpen) && pageOpen.negotiated === false, JSON.stringify(pageOpen));

    const result = await pageEvents.next((e) => e.type === 'result', 'the page result');
    check(`${label}: ${result.sent} messages echoed in order (strings, binaries, empty, 200 KiB, 1000 small)`,
      result.echoes === result.sent && !result.echoMismatch, result.echoMismatch || `${result.echoes} echoes`);
    check(`${label}: C++ -> Chromium string, 200 KiB binary`, result.cppHello && result.cppBig && result.cppDone,
      JSON.stringify(result));

    const bulkOpen = await page.evaluate(() => window.openBulk());
    const cppBulk = await cppEvents.next((e) => e.type === 'open' && e.label === 'bulk', 'the bulk channel at C++');
    check(`${label}: Chromium opens a second (reliable) channel`, cppBulk.maxRetransmits === null && cppBulk.ordered,
      `stream ${bulkOpen.id}`);
    toPeer({ type: 'bulk', bytes: BULK_BYTES });
    const down = await pageEvents.next((e) => e.type === 'bulk-received', 'the bulk at the page');
    check(`${label}: 10 MiB C++ -> Chromium`, down.bytes === BULK_BYTES,
      `${down.bytes} bytes in ${down.seconds.toFixed(2)} s, ${down.mib_per_s.toFixed(1)} MiB/s`);
    await page.evaluate((n) => window.sendBulk(n), BULK_BYTES);
    const up = await cppEvents.next((e) => e.type === 'bulk-received', 'the bulk at C++');
    check(`${label}: 10 MiB Chromium -> C++`, up.bytes === BULK_BYTES,
      `${up.bytes} bytes in ${up.seconds.toFixed(2)} s, ${up.mib_per_s.toFixed(1)} MiB/s`);

    toPeer({ type: 'summary' });
    const summary = await cppEvents.next((e) => e.type === 'summary', 'the C++ summary');
    check(`${label}: C++ got the 200 KiB message intact and echoed ${summary.echoed}`,
      summary.big_ok && summary.saw_end && summary.echoed === result.sent, JSON.stringify(summary));

    // Channels close by stream reset, each way: Chromium closes "bulk", C++ "p2p-messenger".
    await page.evaluate(() => window.closeBulk());
    const bulkClosed = await cppEvents.next((e) => e.type === 'channel-close' && e.label === 'bulk',
      'C++ to see "bulk" close', 15000).then(() => true, () => false);
    check(`${label}: Chromium closes a channel, C++ sees it close`, bulkClosed);
    toPeer({ type: 'close-channel' });
    const p2pClosed = await pageEvents.next((e) => e.type === 'channel-close' && e.label === 'p2p-messenger',
      'the page to see "p2p-messenger" close', 15000).then(() => true, () => false);
    check(`${label}: C++ closes a channel, Chromium sees it close`, p2pClosed);

    // One side closes the connection; the other must notice (SCTP ABORT): C++ when it offered,
    // else Chromium.
    if (cppRole === 'offer') {
      toPeer({ type: 'close' });
      let state = null;
      for (let i = 0; i < 75; i++) {
        state = await page.evaluate(() => window.peerState());
        if (state.sctp === 'closed' || ['closed', 'failed', 'disconnected'].includes(state.connection)) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      check(`${label}: Chromium notices the C++ side closing`,
        state.sctp === 'closed' || ['closed', 'failed', 'disconnected'].includes(state.connection), JSON.stringify(state));
    } else {
      await page.evaluate(() => window.closeAll());
      const closed = await cppEvents.next((e) => e.type === 'state' && ['closed', 'failed'].includes(e.state),
        'C++ to see the close', 15000).then((e) => e, () => null);
      check(`${label}: C++ notices Chromium closing`, closed !== null, closed ? JSON.stringify(closed) : '');
    }
    toPeer({ type: 'exit' });
  } catch (e) {
    check(`${label}: ${e.message}`, false);
  } finally {
    peer.stdin.end();
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 5000))]);
    if (code === 'timeout') peer.kill('SIGKILL');
    await context.close();
  }
}

const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(page_html);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${server.address().port}/`;
let browser;
try {
  browser = await chromium.launch({ executablePath: CHROMIUM, args, headless: true });
} catch (e) {
  console.log('SKIP: Chromium cannot start: ' + String(e.message || e).split('\n')[0]);
  server.close();
  process.exit(77);
}
try {
  await scenario(browser, url, 'offer');
  await scenario(browser, url, 'answer');
} finally {
  await browser.close();
  server.close();
}
const failed = checks.filter((c) => !c.ok).length;
console.log(`${checks.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
