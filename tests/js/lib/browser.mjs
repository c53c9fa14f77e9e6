// Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core, and a loopback HTTP
// server for the pages: what the browser tests share. A browser that cannot start makes the script
// exit 77 with the reason, so the C++ test can skip and say why.
import http from "node:http";
import { readFile } from "node:fs/promises";
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.HYPHAE_CHROMIUM || "/usr/bin/chromium";

export async function launchBrowser() {
  try {
    return await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--headless=new",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-features=WebRtcHideLocalIpsWithMdns",
        "--allow-loopback-in-peer-connection",
      ],
    });
  } catch (e) {
    console.log(JSON.stringify({ skip: "Chromium cannot start: " + String(e.message || e).split("\n")[0] }));
    process.exit(77);
  }
}

// Serves `files` ({"/path": {type, body | file}}) on 127.0.0.1; resolves with the base URL.
export function servePages(files) {
  const server = http.createServer(async (req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    const entry = files[path];
    if (!entry && path === "/favicon.ico") {
      res.writeHead(204).end();  // browsers ask for one; its absence is not a page error
      return;
    }
    if (!entry) {
      res.writeHead(404).end();
      return;
    }
    const body = entry.file ? await readFile(entry.file) : entry.body;
    res.writeHead(200, { "content-type": entry.type, "cache-control": "no-store" }).end(body);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve({ server, base: "http://127.0.0.1:" + server.address().port })),
  );
}

// Records console errors and uncaught page errors: every browser test asserts there are none.
export function watchConsole(page, errors) {
  page.on("console", (m) => {
    if (m.type() === "error") errors.push("console: " + m.text());
  });
  page.on("pageerror", (e) => errors.push("page error: " + e.message));
}
