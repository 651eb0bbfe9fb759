// The client's call, handler and timer semantics, type-checked against the published
// declarations (`tsc --strict`) and run by Node's test runner with a fake fetch.

import { test } from "node:test";
import assert from "node:assert/strict";

import {
  AsyncCall,
  Client,
  NonBlockingError,
  callAsync,
  callAsyncNamed,
  cancel,
  configure,
  defer,
  kw,
  Mock,
  repeat,
  stubs,
  type Status,
} from "../nonblocking.js";

/** An AsyncCall as a Promise, for `assert.rejects`. */
const settled = <T>(call: PromiseLike<T>): Promise<T> => Promise.resolve(call);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type Handler = (body: unknown, signal: AbortSignal) => Promise<Response> | Response;

/** A client whose fetch answers with `handler`; `seen` records every request. */
function fake(handler: Handler) {
  const seen: { url: string; init: RequestInit }[] = [];
  const client = new Client({
    url: "http://server.test/rpc/",
    headers: { Authorization: "Bearer default" },
    fetch: async (url, init) => {
      seen.push({ url, init });
      return handler(JSON.parse(String(init.body)), init.signal as AbortSignal);
    },
  });
  return { client, seen };
}

const json = (value: unknown, status = 200) =>
  new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });

/** A response that waits until released, or fails when the request is aborted. */
function held() {
  let release!: (response: Response) => void;
  let aborted = false;
  const handler: Handler = (_body, signal) =>
    new Promise<Response>((resolve, reject) => {
      release = resolve;
      signal.addEventListener("abort", () => {
        aborted = true;
        reject(signal.reason);
      });
    });
  return { handler, release: (r: Response) => release(r), wasAborted: () => aborted };
}

test("positional and keyword calls send the wire format, with the client's headers", async () => {
  const { client, seen } = fake((body) => json(body));
  assert.deepEqual(await client.callAsync<number[]>("add", 1, 2), [1, 2]);
  assert.deepEqual(await client.withHeaders({ "X-Trace": "7" }).callAsyncNamed("add", { a: 1 }), { a: 1 });
  assert.equal(seen[0].url, "http://server.test/rpc/add");
  assert.equal(seen[0].init.method, "POST");
  const headers = seen[1].init.headers as Record<string, string>;
  assert.equal(headers["Content-Type"], "application/json");
  assert.equal(headers["Authorization"], "Bearer default");
  assert.equal(headers["X-Trace"], "7");
  assert.equal(seen[1].init.credentials, "same-origin");
});

test("status goes pending -> completed; result and error throw not_finished while pending", async () => {
  const gate = held();
  const { client } = fake(gate.handler);
  const call = client.callAsync<number>("slow");
  const status: Status = call.status;
  assert.equal(status, "pending");
  assert.throws(() => call.result, (error: NonBlockingError) => error.code === "not_finished");
  assert.throws(() => call.error, (error: NonBlockingError) => error.code === "not_finished");
  await sleep(5);
  gate.release(json(42));
  assert.equal(await call, 42);
  assert.equal(call.status, "completed");
  assert.equal(call.result, 42);
  assert.equal(call.error, null);
});

test("handlers run at most once, never inside the call that attaches them", async () => {
  const { client } = fake(() => json("ok"));
  const call = client.callAsync<string>("f");
  const seen: string[] = [];
  call.onResult((value) => seen.push(`early ${value}`));
  await call;
  assert.deepEqual(seen, ["early ok"], "attached before: run before the await resumed");
  call.onResult((value) => seen.push(`late ${value}`));
  assert.deepEqual(seen, ["early ok"], "attached after it finished: not inside onResult");
  await sleep(0);
  assert.deepEqual(seen, ["early ok", "late ok"]);
  await sleep(10);
  assert.equal(seen.length, 2, "each handler ran once");
});

test("a handler attached from inside a handler runs later, not re-entrantly", async () => {
  const { client } = fake(() => json(1));
  const call = client.callAsync<number>("f");
  const order: string[] = [];
  call.onResult(() => {
    order.push("outer start");
    call.onResult(() => order.push("inner"));
    order.push("outer end");
  });
  await call;
  await sleep(0);
  assert.deepEqual(order, ["outer start", "outer end", "inner"]);
});

test("a failure nobody handles is reported once on the console; a handled one is not", async () => {
  const logged: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => logged.push(args);
  try {
    const { client } = fake(() => json({ code: "failed", message: "boom" }, 500));
    client.callAsync("unhandled");
    client.callAsync("handled").onError(() => {});
    await sleep(50);
  } finally {
    console.error = original;
  }
  assert.equal(logged.length, 1, JSON.stringify(logged));
  assert.match(String(logged[0][0]), /server function `unhandled` failed and nobody handled it/);
});

test("server errors keep their wire code, message, status and the function's error value", async () => {
  const { client } = fake(() =>
    json({ code: "failed", message: "item 3 has no title", details: { function: "update", value: { id: 3 } } }, 500),
  );
  const errors: NonBlockingError[] = [];
  const call = client.callAsync("update", { id: 3 }).onResult(
    () => assert.fail("no result"),
    (error) => errors.push(error),
  );
  await assert.rejects(settled(call), (error: NonBlockingError) => error instanceof NonBlockingError && error.code === "failed");
  assert.equal(call.status, "failed");
  assert.equal(errors.length, 1);
  assert.equal(errors[0].message, "item 3 has no title");
  assert.equal(errors[0].status, 500);
  assert.deepEqual(errors[0].value, { id: 3 });
  assert.throws(() => call.result, (error: NonBlockingError) => error.code === "failed");
});

test("an answer that is not a nonblocking server's is a transport error", async () => {
  const { client } = fake(() => new Response("<html>", { status: 404 }));
  await assert.rejects(settled(client.callAsync("f")), (error: NonBlockingError) => error.code === "transport" && error.status === 404);
  const down = new Client({ url: "http://server.test", fetch: () => Promise.reject(new TypeError("fetch failed")) });
  await assert.rejects(settled(down.callAsync("f")), (error: NonBlockingError) => error.code === "transport");
});

test("cancel aborts the request and hands error handlers a cancelled error", async () => {
  const gate = held();
  const { client } = fake(gate.handler);
  const codes: string[] = [];
  const call = client.callAsync("slow").onError((error) => codes.push(error.code));
  await sleep(5);
  call.cancel();
  call.cancel();
  assert.equal(call.status, "cancelled");
  assert.ok(gate.wasAborted(), "the request was aborted");
  await assert.rejects(settled(call), (error: NonBlockingError) => error.code === "cancelled");
  assert.deepEqual(codes, ["cancelled"]);
});

test("timeout fails a pending call with timed_out, and the earlier of two deadlines wins", async () => {
  const gate = held();
  const { client } = fake(gate.handler);
  const started = Date.now();
  const call = client.callAsync("slow").timeout(5).timeout(0.05).timeout(10);
  await assert.rejects(settled(call), (error: NonBlockingError) => error.code === "timed_out");
  assert.ok(Date.now() - started < 2000, "the 50 ms deadline won");
  assert.ok(gate.wasAborted());
  assert.equal(call.status, "failed");
});

test("callAsync(fn) runs a local function without waiting", async () => {
  let ran = false;
  const call: AsyncCall<number> = callAsync((a: number, b: number) => {
    ran = true;
    return a + b;
  }, 40, 2);
  assert.equal(ran, false, "not inside callAsync");
  assert.equal(await call, 42);
});

test("a repeat whose body returns a promise never overlaps itself and skips missed ticks", async () => {
  let running = 0;
  let overlaps = 0;
  const ref = repeat(async () => {
    running += 1;
    if (running > 1) overlaps += 1;
    await sleep(45); // longer than the 10 ms interval
    running -= 1;
  }, 0.01);
  await sleep(400);
  ref.cancel();
  const calls = ref.calls;
  assert.equal(overlaps, 0);
  // About 400 / 50 runs; a burst of missed ticks would give far more.
  assert.ok(calls >= 3 && calls <= 12, `${calls} calls`);
  await sleep(80);
  assert.equal(ref.calls, calls, "cancel stops the next call");
  assert.ok(ref.isCancelled);
});

test("a repeat keeps its schedule instead of drifting", async () => {
  // A body that takes 7 ms of a 20 ms interval: a schedule counted from the end of each call
  // would fall 7 ms further behind every time, so the calls' phases on the 20 ms grid would
  // sweep through every value. On the grid, each call starts at its tick.
  const started = performance.now();
  const phases: number[] = [];
  const ref = repeat(() => {
    phases.push((performance.now() - started) % 20);
    const busy = performance.now() + 7;
    while (performance.now() < busy) {
      // the body's own work
    }
  }, 0.02);
  await sleep(1000);
  ref.cancel();
  // Timers fire up to a millisecond early or a few late: distance to the nearest tick.
  const onTime = phases.filter((phase) => Math.min(phase, 20 - phase) < 5).length;
  assert.ok(phases.length >= 20 && phases.length <= 51, `${phases.length} calls`);
  assert.ok(onTime >= 0.8 * phases.length, `only ${onTime} of ${phases.length} calls near their tick: ${phases.map(Math.round)}`);
});

test("twenty resets faster than the delay give exactly one run", async () => {
  let saves = 0;
  const save = defer(() => {
    saves += 1;
  }, 0.08);
  for (let keystroke = 0; keystroke < 20; keystroke += 1) {
    await sleep(5);
    assert.equal(save.reset(), true);
  }
  assert.equal(saves, 0);
  await sleep(250);
  assert.equal(saves, 1);
  assert.equal(save.isPending, false);
  assert.equal(save.reset(), false, "a fired defer cannot be reset");
});

test("cancel(ref) cancels, and cancel(null) does nothing", async () => {
  let fired = false;
  let save: ReturnType<typeof defer> | null = null;
  cancel(save);
  save = defer(() => {
    fired = true;
  }, 0.02);
  cancel(save);
  await sleep(60);
  assert.equal(fired, false);
  assert.equal(save.isPending, false);
});

test("durations: negative or non-numeric ones are refused, very long ones stay pending", async () => {
  assert.throws(() => defer(() => {}, -1), RangeError);
  assert.throws(() => repeat(() => {}, Number.NaN), RangeError);
  // @ts-expect-error: durations are numbers of seconds
  assert.throws(() => defer(() => {}, "1"), RangeError);
  let fired = 0;
  // Past setTimeout's 32-bit range (which would fire at once), and forever.
  const far = defer(() => (fired += 1), 30 * 24 * 3600);
  const never = defer(() => (fired += 1), Infinity);
  await sleep(30);
  assert.equal(fired, 0);
  assert.ok(far.isPending && never.isPending);
  cancel(far);
  cancel(never);
});

// Checked by `tsc --strict` only: each line must fail to type-check, or the unused
// `@ts-expect-error` fails the build. Never called: some lines would also throw at run time.
export function misuseThatMustNotTypeCheck() {
  const call = callAsync(() => 1);
  // @ts-expect-error: a result handler takes the value, not two arguments
  call.onResult((a: number, b: number) => a + b);
  // @ts-expect-error: status is read-only
  call.status = "completed";
  // @ts-expect-error: an AsyncCall is made by callAsync, not constructed
  new AsyncCall();
  // @ts-expect-error: the error of a call is a NonBlockingError, which has a code
  call.onError((error: { nope: number }) => error.nope);
  // @ts-expect-error: keyword arguments are an object
  callAsyncNamed("add", [1, 2]);
}

test("typed stubs call by their dotted path, positionally, through the client of the moment", async () => {
  interface Api {
    todo: { (): AsyncCall<number>; add(title: string, position?: number | null): AsyncCall<{ id: number }, { title: string }> };
  }
  const { client, seen } = fake((body) => json({ id: 7, body }));
  const api = stubs<Api>(client);
  const added = await api.todo.add("milk");
  assert.deepEqual(added, { id: 7, body: ["milk"] });
  assert.equal(seen[0].url, "http://server.test/rpc/todo.add");
  await api.todo();
  assert.equal(seen[1].url, "http://server.test/rpc/todo");
  // Awaiting the stubs object itself is harmless: `then` is never a stub.
  assert.equal((api as unknown as { then?: unknown }).then, undefined);
  assert.equal(await Promise.resolve(api), api);

  // Without a client: the one `configure` set up when the call is made, not when the stubs were.
  const shared = stubs<Api>();
  const seenLater: string[] = [];
  configure({
    url: "http://later.test/rpc",
    fetch: async (url, init) => {
      seenLater.push(String(url));
      return json(JSON.parse(String(init?.body)));
    },
  });
  assert.deepEqual(await shared.todo.add("eggs", 2), ["eggs", 2]);
  assert.deepEqual(seenLater, ["http://later.test/rpc/todo.add"]);
  configure();
});

function typedStubsAreChecked(api: { todo: { add(title: string): AsyncCall<{ id: number }, { title: string }> } }) {
  const call = api.todo.add("x");
  call.onResult((item) => item.id.toFixed(), (error) => error.value?.title.toUpperCase());
  // @ts-expect-error: the title is a string
  api.todo.add(1);
  // @ts-expect-error: the value is an item, which has no `name`
  call.onResult((item) => item.name);
  // @ts-expect-error: the error value is `{ title }`, which has no `id`
  call.onError((error) => error.value?.id);
}
void typedStubsAreChecked;

test("the module exports exactly what its declarations declare", async () => {
  const module = await import("../nonblocking.js");
  // `tsc` makes this object list every declared value export, and nothing else.
  const declared: Record<keyof typeof module, true> = {
    AsyncCall: true,
    Client: true,
    DeferRef: true,
    Mock: true,
    NonBlockingError: true,
    RepeatRef: true,
    STATUSES: true,
    callAsync: true,
    callAsyncNamed: true,
    cancel: true,
    configure: true,
    defer: true,
    kw: true,
    repeat: true,
    stubs: true,
  };
  assert.deepEqual(Object.keys(module).sort(), Object.keys(declared).sort());
  const call = module.callAsync(() => 1);
  for (const member of ["status", "result", "error", "onResult", "onError", "timeout", "cancel", "then"] as const) {
    assert.ok(member in call, `AsyncCall has ${member}`);
  }
  await call;
  assert.deepEqual([...module.STATUSES], ["pending", "completed", "failed", "cancelled"]);
});

test("a Mock answers chosen names, errors as the server would, and records every call", async () => {
  type Api = { cart: { total(prices: number[]): AsyncCall<number> } };
  const mock = new Mock()
    .answer("cart.total", (args: [number[]]) => args[0].reduce((a, b) => a + b, 0))
    .answer("cart.pay", async () => {
      throw new NonBlockingError("forbidden", "not your cart");
    })
    .answer("cart.fail", () => {
      throw new Error("boom");
    });
  const client = new Client({ url: "/rpc", fetch: mock.fetch, headers: { "x-user": "ada" } });
  // The code under test, unchanged: typed stubs, by name, by keyword.
  assert.equal(await stubs<Api>(client).cart.total([3, 4]), 7);
  await assert.rejects(settled(client.callAsync("cart.pay")), (error: NonBlockingError) => {
    assert.equal(error.code, "forbidden");
    assert.equal(error.status, 403);
    assert.equal(error.message, "not your cart");
    return true;
  });
  await assert.rejects(settled(client.callAsync("cart.fail")), (error: NonBlockingError) => error.code === "failed" && error.message === "boom");
  await assert.rejects(settled(client.callAsyncNamed("cart.missing", { id: 1 })), (error: NonBlockingError) => error.code === "not_found");
  assert.deepEqual(
    mock.calls.map((call) => [call.name, call.args]),
    [["cart.total", [[3, 4]]], ["cart.pay", []], ["cart.fail", []], ["cart.missing", { id: 1 }]],
  );
  assert.equal(mock.callsOf("cart.total")[0].headers["x-user"], "ada");
  // Through `configure`, as a page's module-level calls go.
  configure({ url: "/rpc", fetch: mock.fetch });
  assert.equal(await callAsync("cart.total", [1, 2]), 3);
  assert.equal(mock.callsOf("cart.total").length, 2);
});

test("an interceptor runs before every call, may be async, and sets headers the request carries", async () => {
  let token = "t1";
  const names: string[] = [];
  const mock = new Mock().answer("echo", ([text]: [string]) => text);
  const client = new Client({
    url: "/rpc",
    fetch: mock.fetch,
    headers: { "x-client": "page" },
    intercept: async (name, headers) => {
      names.push(name);
      await sleep(1); // a token refreshed now, say
      headers.Authorization = `Bearer ${token}`;
      headers["Content-Type"] = "text/plain"; // cannot make the call a simple request
    },
  });
  assert.equal(await client.callAsync("echo", "a"), "a");
  token = "t2";
  assert.equal(await client.withHeaders({ "x-trace": "7" }).callAsync("echo", "b"), "b");
  assert.deepEqual(names, ["echo", "echo"]);
  const [first, second] = mock.calls.map((call) => call.headers);
  assert.equal(first.Authorization, "Bearer t1");
  assert.equal(first["x-client"], "page");
  assert.equal(first["Content-Type"], "application/json");
  assert.equal(second.Authorization, "Bearer t2");
  assert.equal(second["x-trace"], "7");
  // A failing interceptor fails the call before anything is sent.
  const failing = new Client({
    url: "/rpc",
    fetch: mock.fetch,
    intercept: () => {
      throw new Error("no token");
    },
  });
  await assert.rejects(settled(failing.callAsync("echo", "c")), (error: NonBlockingError) => {
    assert.equal(error.code, "transport");
    assert.match(error.message, /no token/);
    return true;
  });
  assert.equal(mock.calls.length, 2);
  assert.throws(() => new Client({ intercept: "nope" as never }), TypeError);
});

test("a call's deadline travels as the milliseconds left; none is sent without one", async () => {
  const mock = new Mock().answer("echo", ([text]: [string]) => text);
  const client = new Client({ url: "/rpc", fetch: mock.fetch });
  assert.equal(await client.callAsync("echo", "a").timeout(2), "a");
  assert.equal(await client.callAsync("echo", "b"), "b");
  // The client's default, and the earlier of it and the call's own.
  const bounded = new Client({ url: "/rpc", fetch: mock.fetch, timeout: 5 });
  assert.equal(await bounded.callAsync("echo", "c"), "c");
  assert.equal(await bounded.withHeaders({ "x-a": "1" }).callAsync("echo", "d").timeout(0.5), "d");
  const sent = mock.calls.map((call) => call.headers["Nonblocking-Timeout"]);
  assert.equal(sent[1], undefined);
  for (const [at, most] of [[0, 2000], [2, 5000], [3, 500]] as const) {
    const left = Number(sent[at]);
    assert.ok(Number.isInteger(left) && left <= most && left > most - 1000, `call ${at}: ${sent[at]}`);
  }
  assert.throws(() => new Client({ timeout: -1 }), RangeError);
});

test("the page's traceparent goes with every call, fixed or from a function", async () => {
  const mock = new Mock().answer("echo", ([text]: [string]) => text);
  const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  await new Client({ url: "/rpc", fetch: mock.fetch, traceparent: parent }).callAsync("echo", "a");
  let calls = 0;
  const perCall = new Client({ url: "/rpc", fetch: mock.fetch, traceparent: () => (calls++ === 0 ? parent : undefined) });
  await perCall.callAsync("echo", "b");
  await perCall.callAsync("echo", "c");
  assert.deepEqual(
    mock.calls.map((call) => call.headers.traceparent),
    [parent, parent, undefined],
  );
  assert.throws(() => new Client({ traceparent: 7 as never }), TypeError);
});

test("kw({...}) after positional arguments sends the mixed form; misplaced, it is refused", async () => {
  const mock = new Mock().answer("update", (args) => args);
  const client = new Client({ url: "/rpc", fetch: mock.fetch });
  assert.deepEqual(await client.callAsync("update", { id: 1 }, kw({ flag: true })), { $args: [{ id: 1 }], flag: true });
  assert.deepEqual(await client.callAsync("update", kw({ id: 2 })), { $args: [], id: 2 });
  assert.deepEqual(await client.callAsync("update", 1, 2), [1, 2]);
  assert.throws(() => client.callAsync("update", kw({ a: 1 }), 2), TypeError);
  assert.throws(() => kw({ $args: [] }), TypeError);
  assert.throws(() => kw([1] as never), TypeError);
});

/** A framed answer whose bytes arrive in the chunks `cuts` makes of `text`. */
function frames(text: string, cuts: number[] = []) {
  const bytes = new TextEncoder().encode(text);
  const edges = [0, ...cuts, bytes.length];
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let at = 0; at + 1 < edges.length; at += 1) controller.enqueue(bytes.slice(edges[at], edges[at + 1]));
      controller.close();
    },
  });
  return new Response(body, { headers: { "content-type": "application/x-ndjson" } });
}

test("a framed answer: progress in order, the last before the result, split anywhere, even inside a character", async () => {
  const text = '{"progress":"caf\u00e9 1"}\n{"progress":"\u{1f600} 2"}\n{"value":42}\n';
  const length = new TextEncoder().encode(text).length;
  for (let cut = 0; cut <= length; cut += 1) {
    const { client, seen } = fake(() => frames(text, [cut]));
    const events: string[] = [];
    const call = client
      .callAsync<number>("import")
      .onProgress<string>((value) => events.push(value))
      .onResult((value) => events.push(`result ${value}`));
    assert.equal(await call, 42);
    assert.equal(events.at(-1), "result 42", `cut at ${cut}`);
    assert.equal(events.at(-2), "\u{1f600} 2", `cut at ${cut}: ${events}`);
    assert.ok(events.length <= 3 && events.length >= 2, `each value at most once: ${events}`);
    if (cut === 0) {
      assert.equal((seen[0].init.headers as Record<string, string>)["Accept"], "application/x-ndjson, application/json");
    }
  }
});

test("progress read together is delivered once, as the latest value", async () => {
  const lines = Array.from({ length: 100 }, (_, at) => `{"progress":${at + 1}}\n`).join("") + '{"value":1}\n';
  const { client } = fake(() => frames(lines));
  const seen: number[] = [];
  await client.callAsync("import").onProgress<number>((value) => seen.push(value));
  assert.equal(seen.at(-1), 100);
  assert.ok(seen.length < 100, `coalesced: ${seen.length} deliveries`);
});

test("a framed error after progress, a cut-off answer and a bad line are the call's errors", async () => {
  const error = '{"progress":1}\n{"error":{"code":"failed","message":"row 2 broke","details":{"value":{"row":2}}},"status":500}\n';
  const { client } = fake(() => frames(error));
  const seen: unknown[] = [];
  const failed = client.callAsync("import").onProgress((value) => seen.push(value)).onError((e) => seen.push(e.code));
  await assert.rejects(settled(failed), (e: NonBlockingError) => e.code === "failed" && e.status === 500 && (e.value as { row: number }).row === 2);
  assert.deepEqual(seen, [1, "failed"]);

  const cut = fake(() => frames('{"progress":1}\n{"progr')).client;
  await assert.rejects(settled(cut.callAsync("import")), (e: NonBlockingError) => e.code === "transport" && /cut off/.test(e.message));
  const bad = fake(() => frames("<html>\n")).client;
  await assert.rejects(settled(bad.callAsync("import")), (e: NonBlockingError) => e.code === "transport" && /not a frame/.test(e.message));
});

test("onProgress attached after the call finished gets the last value once, before later handlers; a cancelled call reports no more", async () => {
  const { client } = fake(() => frames('{"progress":1}\n{"progress":2}\n{"value":7}\n'));
  const call = client.callAsync("import");
  await call;
  const late: string[] = [];
  call.onProgress((value) => late.push(`progress ${value}`)).onResult((value) => late.push(`result ${value}`));
  await sleep(5);
  assert.deepEqual(late, ["progress 2", "result 7"]);
  assert.throws(() => call.onProgress(42 as unknown as () => void), TypeError);

  const gate = held();
  const held_ = fake(gate.handler).client;
  let progress = 0;
  const cancelled = held_.callAsync("import").onProgress(() => (progress += 1));
  await sleep(5);
  cancelled.cancel();
  assert.equal(progress, 0);
});

test("a Mock answer reports progress as a server function does", async () => {
  const mock = new Mock().answer("import", async ([rows]: [number], { progress }) => {
    for (let row = 1; row <= rows; row += 1) {
      progress(row / rows);
      await sleep(1);
    }
    return rows;
  });
  const client = new Client({ url: "/rpc", fetch: mock.fetch });
  const seen: number[] = [];
  assert.equal(await client.callAsync<number>("import", 4).onProgress<number>((done) => seen.push(done)), 4);
  assert.equal(seen.at(-1), 1);
  assert.ok(seen.every((value, at) => at === 0 || value > seen[at - 1]), `${seen}`);
  // An answer that reports nothing is a plain reply; a failure after progress is the call's error.
  mock.answer("fails", (_args, { progress }) => {
    progress(0.5);
    throw new NonBlockingError("failed", "half done");
  });
  await assert.rejects(settled(client.callAsync("fails")), (e: NonBlockingError) => e.code === "failed" && e.status === 500);
});

test("a mock's items: kept until onItem is attached, in order, then their number", async () => {
  const mock = new Mock().answer("feed", async (_args, { item }) => {
    for (const n of [1, 2, 3]) item(n);
  });
  const client = new Client({ url: "/rpc", fetch: mock.fetch });
  const call = client.callAsync<number>("feed");
  await sleep(20); // the items arrive before any handler
  const seen: string[] = [];
  call.onItem<number>((n) => seen.push(`item ${n}`)).onResult((count) => seen.push(`count ${count}`));
  assert.equal(await call, 3);
  assert.deepEqual(seen, ["item 1", "item 2", "item 3", "count 3"]);
  const looped: number[] = [];
  for await (const n of client.callAsync<number>("feed")) looped.push(n as number);
  assert.deepEqual(looped, [1, 2, 3]);
});

test("a reader that keeps 16 items waits until they are taken, and loses none", async () => {
  let sent = 0;
  let release: () => void = () => {};
  const mock = new Mock().answer("many", async (_args, { item }) => {
    for (let n = 0; n < 100; n += 1) {
      item(n);
      sent += 1;
    }
    await new Promise<void>((resolve) => (release = resolve));
  });
  const client = new Client({ url: "/rpc", fetch: mock.fetch });
  const call = client.callAsync<number>("many");
  await sleep(30);
  const iterator = call[Symbol.asyncIterator]();
  const first: number[] = [];
  for (let n = 0; n < 100; n += 1) {
    const next = await iterator.next();
    first.push(next.value as number);
  }
  assert.deepEqual(first, Array.from({ length: 100 }, (_, n) => n), "every item, in order, after the pauses");
  release();
  assert.ok((await iterator.next()).done);
  assert.equal(await call, 100);
  assert.equal(sent, 100);
});

test("bytes to and from a mock: the body itself, an ArrayBuffer back", async () => {
  const mock = new Mock().answer("reverse", (args: Uint8Array[]) => args[0].slice().reverse());
  const client = new Client({ url: "/rpc", fetch: mock.fetch });
  const back = await client.callAsync<ArrayBuffer>("reverse", new Uint8Array([1, 2, 3]));
  assert.ok(back instanceof ArrayBuffer);
  assert.deepEqual(Array.from(new Uint8Array(back)), [3, 2, 1]);
  const call = mock.callsOf("reverse")[0];
  assert.equal(call.headers["Content-Type"], "application/octet-stream");
  assert.deepEqual(Array.from((call.args as Uint8Array[])[0]), [1, 2, 3]);
});
