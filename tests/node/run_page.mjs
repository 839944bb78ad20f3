// Opens one page in Debian's chromium, headless, and prints what the page reports.
//
//   node tests/node/run_page.mjs URL [TIMEOUT_MS]
//
// The page does its own work (fetches, ...) and, when done, sets `window.testResult` to any
// JSON value; this prints {"result": <that value>, "console": [...], "errors": [...]} as one
// line on stdout and exits 0. It exits 1 with a message on stderr when the page does not
// report within TIMEOUT_MS (default 15000) or the browser cannot start. CHROMIUM overrides the
// browser's path (default /usr/bin/chromium); CHROMIUM_ARGS adds arguments (space-separated,
// e.g. --host-resolver-rules=...). RUN_PAGE_RESULT replaces `window.testResult` with another
// expression evaluated in the page, for pages that are not test pages (it is waited for until
// it is not undefined).
import puppeteer from "puppeteer-core";

const [url, timeoutArg] = process.argv.slice(2);
if (!url) {
  console.error("usage: node run_page.mjs URL [TIMEOUT_MS]");
  process.exit(2);
}
const timeout = Number(timeoutArg || 15000);
const extra = (process.env.CHROMIUM_ARGS || "").split(" ").filter(Boolean);

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // root in CI has no user namespaces for the sandbox; the page is our own
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--no-default-browser-check", ...extra],
  timeout,
});
let code = 0;
try {
  const page = await browser.newPage();
  const consoleLines = [];
  const errors = [];
  page.on("console", (m) => consoleLines.push(m.type() + ": " + m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url, { timeout });
  const expr = process.env.RUN_PAGE_RESULT || "window.testResult";
  await page.waitForFunction(`(${expr}) !== undefined`, { timeout });
  const result = await page.evaluate(expr);
  process.stdout.write(JSON.stringify({ result, console: consoleLines, errors }) + "\n");
} catch (e) {
  console.error("run_page: " + (e && e.stack ? e.stack : e));
  code = 1;
} finally {
  await browser.close();
}
process.exit(code);
