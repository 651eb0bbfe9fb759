// The todo example in a real browser: Debian's Chromium, driven headless by playwright-core
// (no browser download). Run by `cargo test --test browser` (tests/browser.rs), which builds
// and starts `examples/browser_todo` and passes its URL in TODO_URL. Every check reads what
// the page shows, or what the server counted.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

import { chromium } from "playwright-core";

const url = process.env.TODO_URL;
assert.ok(url, "TODO_URL is not set: run this through `cargo test --test browser`, which starts the example");
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const outputs = process.env.TEST_OUTPUT_DIR ?? "test-output";

let browser;
let page;

before(async () => {
  browser = await chromium.launch({
    executablePath,
    headless: true,
    // As root Chromium needs --no-sandbox; the rest keep it off this machine's closed network.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = await browser.newPage();
  page.on("pageerror", (error) => console.error("page error:", error));
  await page.goto(url);
});

after(async () => {
  await browser?.close();
});

/** A call from the page to the server, outside the page's own UI (what the server counted). */
const ask = (name) =>
  page.evaluate(
    (name) => fetch(`/rpc/${name}`, { method: "POST", headers: { "content-type": "application/json" }, body: "[]" }).then((r) => r.json()),
    name,
  );

/** Signs in on the page as `name` (empty: signs out), and waits for the list to load. */
async function signIn(name) {
  await page.fill("#user", name);
  await page.click("#login");
  await page.waitForFunction(() => document.getElementById("status").textContent !== "pending");
}

test("a caller who has not signed in cannot add: the server refuses before the function runs", async () => {
  await page.fill("#title", "anonymous item");
  await page.click("#add");
  await page.locator("#error", { hasText: "Not added" }).waitFor();
  assert.match(await page.textContent("#error"), /requires `user`.*\(unauthorized\)/);
  assert.equal(await page.locator("#items li").count(), 0);
});

test("each user sees only their own items (the login header reaches the function)", async () => {
  await signIn("bob");
  await page.fill("#title", "walk the dog");
  await page.click("#add");
  await page.locator("#items li", { hasText: "walk the dog" }).waitFor();
  await signIn("ada");
  assert.equal(await page.locator("#items li").count(), 0, "ada sees none of bob's items");
});

test("adding an item shows it, with a notification from the result handler", async () => {
  await page.fill("#title", "buy milk");
  await page.click("#add");
  await page.locator("#items li", { hasText: "buy milk" }).waitFor();
  assert.match(await page.textContent("#notification"), /Added “buy milk” \(#1\)/);
  assert.equal(await page.inputValue("#title"), "");
});

test("an empty title shows the server's error through the error handler", async () => {
  await page.fill("#title", "   ");
  await page.click("#add");
  await page.locator("#error", { hasText: "needs a title" }).waitFor();
  assert.match(await page.textContent("#error"), /Not added: an item needs a title \(failed\)/);
});

test("the heartbeat badge advances, driven by repeat", async () => {
  const first = Number(await page.textContent("#heartbeat"));
  await page.waitForFunction((first) => Number(document.getElementById("heartbeat").textContent) >= first + 2, first, {
    timeout: 5000,
  });
});

test("twenty keystrokes typed faster than the debounce give exactly one save, counted on the server", async () => {
  const { saves: before } = await ask("todo.saves");
  await page.click("#draft");
  await page.keyboard.type("twenty keys typed!!!", { delay: 25 });
  await page.locator("#saves", { hasText: String(before + 1) }).waitFor({ timeout: 5000 });
  await page.waitForTimeout(800); // longer than the debounce: a second save would have come
  const { saves, text: draft } = await ask("todo.saves");
  assert.equal(saves, before + 1);
  assert.equal(draft, "twenty keys typed!!!");
});

test("the status of the last call goes pending, then completed", async () => {
  await page.evaluate(() => {
    window.__statuses = [];
    const status = document.getElementById("status");
    new MutationObserver(() => window.__statuses.push(status.textContent)).observe(status, {
      childList: true,
      characterData: true,
      subtree: true,
    });
  });
  await page.fill("#title", "eggs");
  await page.click("#add");
  await page.locator("#items li", { hasText: "eggs" }).waitFor();
  await page.waitForFunction(() => window.__statuses.includes("completed"));
  const statuses = await page.evaluate(() => window.__statuses);
  assert.ok(statuses.indexOf("pending") < statuses.indexOf("completed"), statuses.join(" -> "));
  assert.ok(statuses.indexOf("pending") >= 0, statuses.join(" -> "));
});

/** Waits until the server has stopped `count` slow calls in all. */
async function slowStopped(count) {
  let stopped = 0;
  for (let attempt = 0; attempt < 50 && stopped < count; attempt += 1) {
    stopped = await ask("todo.slow_stopped");
    if (stopped < count) await page.waitForTimeout(50);
  }
  return stopped;
}

test("Cancel makes the server observe the cancellation", async () => {
  const before = await ask("todo.slow_stopped");
  await page.click("#slow");
  await page.locator("#status", { hasText: "pending" }).waitFor();
  await page.waitForTimeout(200); // the request is at the server
  await page.click("#cancel");
  await page.locator("#status", { hasText: "cancelled" }).waitFor();
  await page.locator("#error", { hasText: "cancelled" }).waitFor();
  assert.equal(await slowStopped(before + 1), before + 1, "the server saw the slow call cancelled");
});

test("a deadline set in the page stops the function on the server", async () => {
  const before = await ask("todo.slow_stopped");
  const code = await page.evaluate(async () => {
    const { callAsync } = await import("/rpc/nonblocking.js");
    return callAsync("todo.slow").timeout(0.3).then(
      () => "completed",
      (error) => error.code,
    );
  });
  assert.equal(code, "timed_out");
  assert.equal(await slowStopped(before + 1), before + 1, "the server stopped the slow call");
});

test("mixed positional and keyword arguments from the page, and their errors", async () => {
  const outcome = await page.evaluate(async () => {
    // The page's own module: its calls carry the signed-in user's header.
    const { callAsync, kw } = await import("/rpc/nonblocking.js");
    const item = await callAsync("todo.add", kw({ title: "by keyword" }));
    const twice = await callAsync("todo.add", "a", kw({ title: "b" })).then(
      () => null,
      (error) => ({ code: error.code, parameter: error.details?.parameter }),
    );
    return { title: item.title, twice };
  });
  assert.deepEqual(outcome, { title: "by keyword", twice: { code: "invalid_arguments", parameter: "title" } });
});

test("signed in again, a user finds their items, and only theirs", async () => {
  await signIn("bob");
  assert.deepEqual(await page.locator("#items li").allTextContents(), ["walk the dog"]);
  await signIn("ada");
  const adas = await page.locator("#items li").allTextContents();
  assert.ok(adas.includes("buy milk") && !adas.includes("walk the dog"), `ada's list: ${adas}`);
});

test("a screenshot after the scenario shows the page", async () => {
  mkdirSync(outputs, { recursive: true });
  const path = join(outputs, "browser_todo.png");
  const png = await page.screenshot({ path, fullPage: true });
  assert.ok((await page.textContent("#items")).includes("buy milk"));
  // Decode the PNG in the page itself and count the pixels that are not the background.
  const share = await page.evaluate(async (base64) => {
    const image = new Image();
    image.src = `data:image/png;base64,${base64}`;
    await image.decode();
    const canvas = document.createElement("canvas");
    canvas.width = image.width;
    canvas.height = image.height;
    const context = canvas.getContext("2d");
    context.drawImage(image, 0, 0);
    const { data } = context.getImageData(0, 0, image.width, image.height);
    let differ = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (Math.abs(data[i] - 250) + Math.abs(data[i + 1] - 250) + Math.abs(data[i + 2] - 250) > 30) differ += 1;
    }
    return differ / (data.length / 4);
  }, png.toString("base64"));
  assert.ok(share > 0.01, `only ${(share * 100).toFixed(2)}% of the pixels differ from the background`);
  console.log(`screenshot: ${path} (${(share * 100).toFixed(1)}% of pixels differ from the background)`);
});

/** Records every value the import bar is given, from the page (the bar's `value` attribute). */
async function watchImportBar() {
  await page.evaluate(() => {
    window.__bar = [];
    const bar = document.getElementById("import-bar");
    new MutationObserver(() => window.__bar.push(Number(bar.getAttribute("value")))).observe(bar, {
      attributes: true,
      attributeFilter: ["value"],
    });
  });
}

test("Import moves the progress bar monotonically to 100, then shows the imported rows", async () => {
  await signIn("cleo");
  await watchImportBar();
  await page.click("#import");
  await page.locator("#import-status", { hasText: "imported 50 rows" }).waitFor({ timeout: 20_000 });
  const values = await page.evaluate(() => window.__bar.filter((value) => value > 0));
  assert.ok(values.length >= 5, `the bar moved while the import ran: ${values}`);
  assert.ok(values.every((value, at) => at === 0 || value >= values[at - 1]), `monotonic: ${values}`);
  assert.equal(values.at(-1), 100, `it reaches 100: ${values}`);
  assert.equal(await page.getAttribute("#import-bar", "value"), "100");
  await page.locator("#items li", { hasText: "imported row 50 of 50" }).waitFor();
  assert.equal(await page.locator("#items li").count(), 50);
});

test("Cancel import stops the import on the server, and the bar stops", async () => {
  const before = await ask("todo.imports_stopped");
  await watchImportBar();
  await page.click("#import");
  await page.waitForFunction(() => window.__bar.some((value) => value >= 10));
  await page.click("#cancel-import");
  await page.locator("#import-status", { hasText: "import stopped: cancelled" }).waitFor();
  let stopped = before;
  for (let attempt = 0; attempt < 50 && stopped === before; attempt += 1) {
    await page.waitForTimeout(50);
    stopped = await ask("todo.imports_stopped");
  }
  assert.equal(stopped, before + 1, "the server stopped the import");
  const at = await page.getAttribute("#import-bar", "value");
  await page.waitForTimeout(300);
  assert.equal(await page.getAttribute("#import-bar", "value"), at, "no progress after the cancel");
  assert.ok(Number(at) < 100, `stopped part way: ${at}`);
});

test("a deadline set in the page stops an import mid-progress on the server", async () => {
  const before = await ask("todo.imports_stopped");
  const outcome = await page.evaluate(async () => {
    const { api } = await import("/rpc/api.js");
    let reports = 0;
    const code = await api.todo
      .import(50)
      .onProgress(() => (reports += 1))
      .timeout(0.4)
      .then(
        () => "completed",
        (error) => error.code,
      );
    return { code, reports };
  });
  assert.equal(outcome.code, "timed_out");
  assert.ok(outcome.reports >= 2, `progress arrived before the deadline: ${outcome.reports}`);
  let stopped = before;
  for (let attempt = 0; attempt < 50 && stopped === before; attempt += 1) {
    await page.waitForTimeout(50);
    stopped = await ask("todo.imports_stopped");
  }
  assert.equal(stopped, before + 1, "the server stopped the import at the deadline");
});

test("Suggest fills the list item by item, in order, then says how many", async () => {
  await page.evaluate(() => {
    // The list's length at each change: it grows one item at a time.
    window.__lengths = [];
    const list = document.getElementById("suggestions");
    new MutationObserver(() => window.__lengths.push(list.children.length)).observe(list, { childList: true });
  });
  await page.click("#suggest");
  await page.locator("#suggest-status", { hasText: "loaded 20 suggestions" }).waitFor({ timeout: 20_000 });
  const lengths = await page.evaluate(() => window.__lengths.filter((length) => length > 0));
  assert.deepEqual(lengths, Array.from({ length: 20 }, (_, at) => at + 1), "one item at a time");
  const numbers = await page.$$eval("#suggestions li", (items) => items.map((item) => Number(item.dataset.n)));
  assert.deepEqual(numbers, Array.from({ length: 20 }, (_, at) => at + 1), "in order, each once");
  assert.match(await page.textContent("#suggestions li:last-child"), /suggestion 20: water the plants \u{1f331}/u);
});

test("Stop cancels the stream: the server stops making suggestions and the list stops", async () => {
  const before = await ask("todo.suggestions_stopped");
  await page.click("#suggest");
  await page.waitForFunction(() => document.querySelectorAll("#suggestions li").length >= 3);
  await page.click("#stop-suggest");
  await page.locator("#suggest-status", { hasText: "suggestions stopped: cancelled" }).waitFor();
  let stopped = before;
  for (let attempt = 0; attempt < 50 && stopped === before; attempt += 1) {
    await page.waitForTimeout(50);
    stopped = await ask("todo.suggestions_stopped");
  }
  assert.equal(stopped, before + 1, "the server stopped the stream");
  const shown = await page.locator("#suggestions li").count();
  await page.waitForTimeout(300);
  assert.equal(await page.locator("#suggestions li").count(), shown, "no item after the stop");
  assert.ok(shown < 20, `stopped part way: ${shown}`);
});

test("for await reads a stream in the page; leaving the loop early stops it on the server", async () => {
  const before = await ask("todo.suggestions_stopped");
  const outcome = await page.evaluate(async () => {
    const { api } = await import("/rpc/api.js");
    const all = [];
    for await (const suggestion of api.todo.suggestions(5)) all.push(suggestion.n);
    const some = [];
    for await (const suggestion of api.todo.suggestions(20)) {
      some.push(suggestion.n);
      if (some.length === 3) break;
    }
    return { all, some };
  });
  assert.deepEqual(outcome.all, [1, 2, 3, 4, 5]);
  assert.deepEqual(outcome.some, [1, 2, 3]);
  let stopped = before;
  for (let attempt = 0; attempt < 50 && stopped === before; attempt += 1) {
    await page.waitForTimeout(50);
    stopped = await ask("todo.suggestions_stopped");
  }
  assert.equal(stopped, before + 1, "leaving the loop stopped the stream on the server");
});

test("a deadline set in the page stops a stream mid-way on the server", async () => {
  const before = await ask("todo.suggestions_stopped");
  const outcome = await page.evaluate(async () => {
    const { api } = await import("/rpc/api.js");
    const got = [];
    const code = await api.todo
      .suggestions(20)
      .onItem((suggestion) => got.push(suggestion.n))
      .timeout(0.2)
      .then(
        () => "completed",
        (error) => error.code,
      );
    return { code, got };
  });
  assert.equal(outcome.code, "timed_out");
  assert.ok(outcome.got.length >= 1 && outcome.got.length < 20, `items before the deadline: ${outcome.got}`);
  let stopped = before;
  for (let attempt = 0; attempt < 50 && stopped === before; attempt += 1) {
    await page.waitForTimeout(50);
    stopped = await ask("todo.suggestions_stopped");
  }
  assert.equal(stopped, before + 1, "the server stopped the stream at the deadline");
});

test("Export downloads the list as a file: bytes, not JSON", async () => {
  await signIn("erin");
  await page.fill("#title", "buy a kettle \u{1f375}");
  await page.click("#add");
  await page.locator("#items li", { hasText: "buy a kettle" }).waitFor();
  await page.click("#export");
  await page.locator("#export-status", { hasText: "bytes" }).waitFor();
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export-file")]);
  const path = await download.path();
  const { readFile } = await import("node:fs/promises");
  const text = (await readFile(path)).toString("utf8");
  const lines = text.split("\n");
  assert.equal(lines.pop(), "", "each line ends with a newline");
  assert.ok(lines.every((line) => /^\d+\t\S/.test(line)), `id, tab, title: ${JSON.stringify(text)}`);
  assert.match(lines.at(-1), /^\d+\tbuy a kettle \u{1f375}$/u, "the item just added, its characters whole");
  assert.equal(lines.length, await page.locator("#items li").count(), "one line per item of the list");
  // From the page: a Blob goes as its bytes, and the function sees their number.
  const measured = await page.evaluate(async () => {
    const { api } = await import("/rpc/api.js");
    return api.todo.measure(new Blob([new Uint8Array(1000)]));
  });
  assert.equal(measured, 1000);
});

/** Serves, on `port`, a page that loads the client from its own origin and calls the example
 * server at `api` across origins; resolves with the server, to close. */
async function secondOrigin(port, api) {
  const { createServer } = await import("node:http");
  const { readFile } = await import("node:fs/promises");
  const client = await readFile(new URL("../nonblocking.js", import.meta.url));
  const page = `<!doctype html><script type="module">
    import { Client } from "/nonblocking.js";
    const client = new Client({ url: ${JSON.stringify(api)} });
    // With a deadline, so the preflight must allow the header it travels in.
    client.callAsync("todo.ping").timeout(5).onResult(
      (beats) => (document.body.dataset.outcome = "answered " + typeof beats),
      (error) => (document.body.dataset.outcome = "refused " + error.code),
    );
  </script>`;
  const server = createServer((request, response) => {
    if (request.url === "/nonblocking.js") {
      response.writeHead(200, { "content-type": "text/javascript" }).end(client);
    } else {
      response.writeHead(200, { "content-type": "text/html" }).end(page);
    }
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  return server;
}

test("a page of another origin may call only when the server allows that origin (CORS)", async () => {
  const api = new URL("/rpc", url).href;
  for (const [variable, expected] of [
    ["ALLOWED_ORIGIN_PORT", "answered number"],
    ["REFUSED_ORIGIN_PORT", "refused transport"],
  ]) {
    const port = Number(process.env[variable]);
    assert.ok(port > 0, `${variable} is not set`);
    const server = await secondOrigin(port, api);
    try {
      const other = await browser.newPage();
      await other.goto(`http://127.0.0.1:${port}/`);
      await other.waitForFunction(() => document.body.dataset.outcome !== undefined, null, { timeout: 5000 });
      assert.equal(await other.evaluate(() => document.body.dataset.outcome), expected, variable);
      await other.close();
    } finally {
      server.close();
    }
  }
});
