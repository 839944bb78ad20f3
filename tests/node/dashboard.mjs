// Drives one page in Debian's chromium (headless) step by step for a Python test:
//
//   node tests/node/dashboard.mjs
//
// reads one JSON command per line on stdin and answers each with one JSON line on stdout,
// {"ok": true, "value": ...} or {"ok": false, "error": "..."}, so the test can change the
// world (send requests, stop a backend, break the config file) between two steps. Commands:
//   {"op": "goto", "url": U}                      load U
//   {"op": "viewport", "width": W, "height": H}   resize
//   {"op": "scheme", "value": "dark"|"light"}     emulate prefers-color-scheme
//   {"op": "type", "selector": S, "text": T}      replace an input's value with T
//   {"op": "click", "selector": S}
//   {"op": "press", "key": K}                     a key on the focused element
//   {"op": "eval", "js": E}                       the value of expression E in the page
//   {"op": "wait", "js": E, "timeout": MS}        waits until E is truthy; its value
//   {"op": "screenshot", "path": P}               PNG of the viewport
//   {"op": "log"}                                 {"console": [...], "errors": [...]} so far
//   {"op": "close"}
// CHROMIUM overrides the browser's path (default /usr/bin/chromium).
import puppeteer from "puppeteer-core";
import readline from "node:readline";

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // root in CI has no user namespaces for the sandbox; the page is our own
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--no-default-browser-check"],
  timeout: 30000,
});
const page = await browser.newPage();
await page.setViewport({ width: 1280, height: 900 });
const consoleLines = [];
const errors = [];
page.on("console", (m) => consoleLines.push({ type: m.type(), text: m.text() }));
page.on("pageerror", (e) => errors.push(String(e)));
page.on("requestfailed", (r) => {
  // aborting the live log's stream (switching views) is the page's own doing
  const f = r.failure();
  if (!(f && f.errorText === "net::ERR_ABORTED")) errors.push("request failed: " + r.url() + " " + (f ? f.errorText : ""));
});

async function run(cmd) {
  switch (cmd.op) {
    case "goto":
      await page.goto(cmd.url, { waitUntil: "load", timeout: 20000 });
      return null;
    case "viewport":
      await page.setViewport({ width: cmd.width, height: cmd.height });
      return null;
    case "scheme":
      await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: cmd.value }]);
      return null;
    case "type":
      await page.$eval(cmd.selector, (e) => { e.value = ""; });
      await page.type(cmd.selector, cmd.text);
      return null;
    case "click":
      await page.click(cmd.selector);
      return null;
    case "press":
      await page.keyboard.press(cmd.key);
      return null;
    case "eval":
      return await page.evaluate(cmd.js);
    case "wait": {
      const h = await page.waitForFunction(cmd.js, { timeout: cmd.timeout || 10000, polling: 100 });
      return await h.jsonValue();
    }
    case "screenshot":
      await page.screenshot({ path: cmd.path });
      return cmd.path;
    case "log":
      return { console: consoleLines, errors };
    case "close":
      return null;
    default:
      throw new Error("unknown op " + cmd.op);
  }
}

const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  let cmd;
  let reply;
  try {
    cmd = JSON.parse(line);
    reply = { ok: true, value: await run(cmd) };
  } catch (e) {
    reply = { ok: false, error: String(e && e.message ? e.message : e) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
  if (cmd && cmd.op === "close") break;
}
await browser.close();
process.exit(0);
