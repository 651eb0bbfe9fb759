// The client against a live server: run by `cargo test` (tests/js_client.rs), which starts a
// server with the `js.*` functions and passes its prefix in NONBLOCKING_URL.

import { test } from "node:test";
import assert from "node:assert/strict";

import { Client, NonBlockingError, kw } from "../nonblocking.js";

const url = process.env.NONBLOCKING_URL;
assert.ok(url, "NONBLOCKING_URL is not set: run this through `cargo test --test js_client`, which starts the server");
const client = new Client({ url });

const settled = <T>(call: PromiseLike<T>): Promise<T> => Promise.resolve(call);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

test("positional and keyword calls reach the function", async () => {
  assert.equal(await client.callAsync<number>("js.add", 40, 2), 42);
  assert.equal(await client.callAsyncNamed<number>("js.add", { a: 1, b: 2 }), 3);
});

test("positional and keyword arguments in one call, and their errors, reach the server", async () => {
  assert.equal(await client.callAsync<number>("js.add", 40, kw({ b: 2 })), 42);
  await assert.rejects(settled(client.callAsync("js.add", 40, kw({ a: 2 }))), (error: NonBlockingError) => {
    assert.equal(error.code, "invalid_arguments");
    assert.equal((error.details as { parameter?: string }).parameter, "a");
    assert.match(error.message, /given both positionally and by keyword/);
    return true;
  });
});

test("the server's refusals arrive with their wire codes", async () => {
  const code = (call: PromiseLike<unknown>) =>
    settled(call).then(
      () => "no error",
      (error: NonBlockingError) => error.code,
    );
  assert.equal(await code(client.callAsync("js.nothing")), "not_found");
  assert.equal(await code(client.callAsync("js.add", "forty", 2)), "invalid_arguments");
  assert.equal(await code(client.callAsyncNamed("js.add", { a: 1, c: 2 })), "invalid_arguments");
});

test("a function's error comes with its message and its value", async () => {
  const call = client.callAsync("js.check", 3);
  await assert.rejects(settled(call), (error: NonBlockingError) => {
    assert.equal(error.code, "failed");
    assert.equal(error.status, 500);
    assert.equal(error.message, "item 3 has no title");
    assert.deepEqual(error.value, { id: 3 });
    return true;
  });
});

test("cancel aborts the request, and the server cancels the function", async () => {
  const call = client.callAsync("js.slow");
  await sleep(200);
  assert.equal(await client.callAsync<boolean>("js.slow_started"), true);
  call.cancel();
  assert.equal(call.status, "cancelled");
  let observed = false;
  for (let attempt = 0; attempt < 50 && !observed; attempt += 1) {
    await sleep(50);
    observed = await client.callAsync<boolean>("js.slow_was_cancelled");
  }
  assert.ok(observed, "the server saw the call cancelled");
});

test("the signed-in user the hook attached reaches the function; without one it is refused", async () => {
  const ada = client.withHeaders({ "x-user": "ada" });
  assert.equal(await ada.callAsync<string>("js.whoami"), "ada");
  const refused = await settled(client.callAsync("js.whoami")).then(
    () => null,
    (error: NonBlockingError) => error,
  );
  assert.equal(refused?.code, "unauthorized");
  assert.equal(refused?.status, 401);
  assert.deepEqual(refused?.details, { function: "js.whoami", parameter: "user", type: "js_client::User" });
});

test("timeout(seconds) tells the server the deadline, which the function can read", async () => {
  const left = await client.callAsync<number>("js.time_left").timeout(2);
  assert.ok(left > 1000 && left <= 2000, `${left} ms left`);
  const bounded = new Client({ url, timeout: 3 });
  const boundedLeft = await bounded.callAsync<number>("js.time_left");
  assert.ok(boundedLeft > 2000 && boundedLeft <= 3000, `${boundedLeft} ms left`);
});

test("a deadline set with timeout() stops the function on the server", async () => {
  const before = await client.callAsync<number>("js.naps_stopped");
  const code = await settled(client.callAsync("js.nap", 20_000).timeout(0.3)).then(
    () => "completed",
    (error: NonBlockingError) => error.code,
  );
  assert.equal(code, "timed_out");
  let stopped = before;
  for (let attempt = 0; attempt < 50 && stopped === before; attempt += 1) {
    await sleep(50);
    stopped = await client.callAsync<number>("js.naps_stopped");
  }
  assert.equal(stopped, before + 1, "the server stopped the nap");
});

test("the page's traceparent puts the server's call in the page's trace", async () => {
  const traced = new Client({
    url: process.env.NONBLOCKING_URL,
    traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  });
  assert.equal(await traced.callAsync<string>("js.trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.equal(await client.callAsync<string | null>("js.trace_id"), null);
});

test("a bearer token from the client reaches the authorize hook", async () => {
  const denied = await settled(client.callAsync("js.secret")).then(
    () => "no error",
    (error: NonBlockingError) => error.code,
  );
  assert.equal(denied, "unauthorized");
  const allowed = client.withHeaders({ Authorization: "Bearer let-me-in" });
  assert.equal(await allowed.callAsync<string>("js.secret"), "the secret");
});

test("progress reaches onProgress in order while the function runs, the last before the result", async () => {
  const seen: string[] = [];
  const call = client
    .callAsync<number>("js.count", 20, 5)
    .onProgress<[number, string]>(([done, text]) => {
      assert.equal(text, `caf\u00e9 \u20ac \u{1f600} ${done}`, "characters of every width arrive whole");
      seen.push(String(done));
    })
    .onResult((value) => seen.push(`result ${value}`));
  assert.equal(await call, 20);
  assert.equal(seen.at(-1), "result 20");
  assert.equal(seen.at(-2), "20", `the last value before the result: ${seen}`);
  const values = seen.slice(0, -1).map(Number);
  assert.ok(values.every((value, at) => at === 0 || value > values[at - 1]), `in order: ${values}`);
});

test("an error after some progress ends the call with that error", async () => {
  const seen: number[] = [];
  const call = client.callAsync("js.breaks", 4).onProgress<number>((row) => seen.push(row));
  await assert.rejects(settled(call), (error: NonBlockingError) => {
    assert.equal(error.code, "failed");
    assert.equal(error.status, 500);
    assert.deepEqual(error.value, { row: 4 });
    return true;
  });
  assert.equal(seen.at(-1), 3, `the last progress before the error: ${seen}`);
});

test("cancelling a call that reports progress stops the function on the server", async () => {
  const before = await client.callAsync<number>("js.ticking_stopped");
  let ticks = 0;
  const call = client.callAsync("js.ticking").onProgress(() => {
    ticks += 1;
  });
  for (let attempt = 0; attempt < 100 && ticks < 3; attempt += 1) await sleep(20);
  assert.ok(ticks >= 3, `progress arrived while it ran: ${ticks}`);
  call.cancel();
  const afterCancel = ticks;
  let stopped = before;
  for (let attempt = 0; attempt < 50 && stopped === before; attempt += 1) {
    await sleep(50);
    stopped = await client.callAsync<number>("js.ticking_stopped");
  }
  assert.equal(stopped, before + 1, "the server stopped the function");
  assert.equal(ticks, afterCancel, "no progress after the cancel");
});

test("a deadline set with timeout() stops a function mid-progress on the server", async () => {
  const before = await client.callAsync<number>("js.ticking_stopped");
  let ticks = 0;
  const code = await settled(
    client
      .callAsync("js.ticking")
      .onProgress(() => {
        ticks += 1;
      })
      .timeout(0.3),
  ).then(
    () => "completed",
    (error: NonBlockingError) => error.code,
  );
  assert.equal(code, "timed_out");
  assert.ok(ticks >= 2, `progress arrived before the deadline: ${ticks}`);
  let stopped = before;
  for (let attempt = 0; attempt < 50 && stopped === before; attempt += 1) {
    await sleep(50);
    stopped = await client.callAsync<number>("js.ticking_stopped");
  }
  assert.equal(stopped, before + 1, "the server stopped the function at the deadline");
});

test("a stream's items reach onItem in order, each once, then their number", async () => {
  const seen: string[] = [];
  const count = await client.callAsync<number>("js.letters", 300).onItem<string>((item) => seen.push(item));
  assert.equal(count, 300);
  assert.deepEqual(
    seen,
    Array.from({ length: 300 }, (_, at) => `${at + 1} caf\u00e9 \u20ac \u{1f600}`),
    "in order, each once, characters of every width whole",
  );
});

test("for await reads a stream as it asks; an error after some items is thrown after them", async () => {
  const all: string[] = [];
  for await (const item of client.callAsync<number>("js.letters", 5)) all.push(item as string);
  assert.equal(all.length, 5);
  const some: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const item of client.callAsync<number>("js.letters", 10, 4)) some.push(item as string);
    })(),
    (error: NonBlockingError) => {
      assert.equal(error.code, "failed");
      assert.match(error.message, /no letter 4/);
      return true;
    },
  );
  assert.equal(some.length, 3, `the items before the error: ${some}`);
});

test("a loop that stops reading slows the server down; leaving it stops the function", async () => {
  const [made, stopped] = await client.callAsync<[number, number]>("js.letters_seen");
  // 4 KiB items: the connection's buffers hold a few thousand at most.
  const call = client.callAsync<number>("js.letters", 1_000_000, null, 4096);
  const iterator = call[Symbol.asyncIterator]();
  assert.ok(!(await iterator.next()).done);
  // Nobody reads: the buffers on the way fill, then the function waits.
  let [before] = await client.callAsync<[number, number]>("js.letters_seen");
  let settled = false;
  for (let attempt = 0; attempt < 50 && !settled; attempt += 1) {
    await sleep(200);
    const [now] = await client.callAsync<[number, number]>("js.letters_seen");
    settled = now === before;
    before = now;
  }
  assert.ok(settled, `the function waits while nobody reads: ${before - made} made`);
  assert.ok(before - made < 20_000, `bounded by the buffers on the way: ${before - made} items of 4 KiB made ahead`);
  // Reading on, the items come, in order.
  for (let n = 2; n <= 100; n += 1) {
    const next = await iterator.next();
    assert.ok((next.value as string).startsWith(`${n} `), `item ${n} in order`);
  }
  await iterator.return?.();
  let now = stopped;
  for (let attempt = 0; attempt < 50 && now === stopped; attempt += 1) {
    await sleep(50);
    [, now] = await client.callAsync<[number, number]>("js.letters_seen");
  }
  assert.equal(now, stopped + 1, "leaving the loop stopped the function on the server");
  assert.equal(call.status, "cancelled");
});

test("bytes go as the body itself and come back as an ArrayBuffer", async () => {
  const every = Uint8Array.from({ length: 512 }, (_, at) => at % 256);
  const reversed = Array.from(every).reverse();
  for (const sent of [every, every.buffer, new Blob([every]), new DataView(every.buffer)]) {
    const back = await client.callAsync<ArrayBuffer>("js.reverse", sent);
    assert.ok(back instanceof ArrayBuffer, `an ArrayBuffer for ${sent.constructor.name}`);
    assert.deepEqual(Array.from(new Uint8Array(back)), reversed);
  }
  // A function that takes no bytes refuses them, by name.
  await assert.rejects(settled(client.callAsync("js.add", new Uint8Array([1]))), (error: NonBlockingError) => {
    assert.equal(error.code, "unsupported_media_type");
    assert.match(error.message, /`js.add` takes no bytes/);
    return true;
  });
});

test("a download comes as chunks of bytes, read as they are taken; its value is its size", async () => {
  const chunks: Uint8Array[] = [];
  for await (const chunk of client.callAsync<number>("js.download", 40, 4096)) chunks.push(chunk as Uint8Array);
  const whole = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  chunks.reduce((at, chunk) => (whole.set(chunk, at), at + chunk.length), 0);
  assert.equal(whole.length, 40 * 4096);
  assert.ok(whole.every((byte, at) => byte === Math.floor(at / 4096)), "every byte in order");
  const size = await client.callAsync<number>("js.download", 3, 10).onItem(() => {});
  assert.equal(size, 30);
  // Failing after its first bytes, it is a transport error, never a shorter file.
  const read: Uint8Array[] = [];
  await assert.rejects(
    (async () => {
      for await (const chunk of client.callAsync<number>("js.download", 40, 4096, 5)) read.push(chunk as Uint8Array);
    })(),
    (error: NonBlockingError) => {
      assert.equal(error.code, "transport");
      assert.match(error.message, /broke off/);
      return true;
    },
  );
  assert.ok(read.reduce((sum, chunk) => sum + chunk.length, 0) <= 5 * 4096);
});
