// The web app in headless Chromium, logged in with a one-time link from `hyphae app`: the control
// panel shows the node, its transports, and a failover as it happens; the send form sends; the
// login cookie is HttpOnly, state changes without the CSRF token are refused and the link works
// once. Screenshots of the control panel and the messages view go to OUT_DIR.
// Prints one JSON object; exits 0 on success, 77 when Chromium cannot start.
// Usage: node webapp.mjs LOGIN_URL PEER_ID OUT_DIR
import { launchBrowser, watchConsole } from "./lib/browser.mjs";

const [loginUrl, peer, outDir] = process.argv.slice(2);
const browser = await launchBrowser();
const errors = [];
const seen = {};
let code = 1;
const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
watchConsole(page, errors);
try {
  await page.goto(loginUrl);
  seen.landed = new URL(page.url()).pathname;
  await page.waitForSelector('[data-testid="peer-id"]', { timeout: 10_000 });
  seen.peerId = await page.textContent('[data-testid="peer-id"]');
  await page.waitForSelector('[data-testid="state-tcp"]:has-text("available")', { timeout: 10_000 });
  await page.waitForSelector('[data-testid="state-lan"]:has-text("available")', { timeout: 10_000 });
  seen.transports = await page.$$eval('[data-testid="transports"] tbody tr', (rows) => rows.map((r) => r.getAttribute("data-transport")));

  // What the page's own code cannot see or skip.
  seen.cookieVisible = await page.evaluate(() => document.cookie.includes("hyphae_session"));
  // (Through the context's request API, which carries the same cookie: a refused fetch in the page
  // would log a console error, and every console error fails this test.)
  const origin = new URL(page.url()).origin;
  seen.withoutCsrf = (await page.request.post(origin + "/v1/messages", { data: { to: peer, payload: "forged" } })).status();
  const csrf = await page.evaluate(async () => (await (await fetch("/v1/app/session")).json()).csrf_token);
  const fault = (mode) =>
    page.evaluate(
      async ({ csrf, mode }) =>
        (await fetch("/v1/p2p/transports/tcp/fault", { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(mode) })).status,
      { csrf, mode },
    );

  // A message sent from the form while tcp loses everything: it fails over to lan.
  seen.lossyStatus = await fault({ mode: "lossy", loss: 1.0 });
  await page.fill('[data-testid="send-form"] input[name="to"]', peer);
  await page.fill('[data-testid="send-form"] textarea[name="payload"]', "failover me");
  await page.click('[data-testid="send-form"] button');
  await page.waitForSelector('[data-testid="send-status"]', { timeout: 5_000 });
  seen.sendStatus = await page.textContent('[data-testid="send-status"]');
  // When the node fails the message over (its metric rises; polled here every 20 ms), and when the
  // panel shows it.
  const shown = page.waitForSelector('[data-testid="timeline"] li.failover:has-text("tcp → lan")', { timeout: 10_000 }).then(() => Date.now());
  let failedOverAt = 0;
  for (const deadline = Date.now() + 10_000; !failedOverAt && Date.now() < deadline; ) {
    const metrics = await (await page.request.get(origin + "/metrics")).text();
    if (/p2p_failovers_total\{from="tcp",to="lan"\} [1-9]/.test(metrics)) failedOverAt = Date.now();
    else await new Promise((r) => setTimeout(r, 20));
  }
  seen.failoverShownMs = (await shown) - failedOverAt;

  // tcp dies: from when the node reports it unavailable (polled here every 20 ms) to when the
  // panel shows it.
  const deadShown = Promise.all([
    page.waitForSelector('[data-testid="state-tcp"]:has-text("unavailable")', { timeout: 10_000 }),
    page.waitForSelector('[data-testid="timeline"] li:has-text("tcp unavailable")', { timeout: 10_000 }),
  ]).then(() => Date.now());
  seen.deadStatus = await fault({ mode: "dead" });
  let deadAt = 0;
  for (const deadline = Date.now() + 10_000; !deadAt && Date.now() < deadline; ) {
    const list = await (await page.request.get(origin + "/v1/p2p/transports")).json();
    if (list.transports.some((t) => t.name === "tcp" && !t.available)) deadAt = Date.now();
    else await new Promise((r) => setTimeout(r, 20));
  }
  seen.deadShownMs = (await deadShown) - deadAt;
  await page.waitForTimeout(1500); // a few chart points
  await page.screenshot({ path: outDir + "/control-panel.png", fullPage: true });

  await page.click('header nav button:has-text("Messages")');
  await page.waitForSelector('[data-testid="chat"]');
  await page.screenshot({ path: outDir + "/messages.png" });

  // The link was single-use.
  seen.secondLogin = (await page.request.get(loginUrl, { maxRedirects: 0 })).status();
  code = 0;
} catch (e) {
  errors.push(String(e.message || e));
}
seen.errors = errors;
console.log(JSON.stringify(seen));
await browser.close();
process.exit(code);
