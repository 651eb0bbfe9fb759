// nonblocking: call server functions from the browser without waiting.
//
// The browser side of the Rust crate `nonblocking-runtime` (feature `http`), with the API of
// Anvil's `non_blocking` module: `callAsync` returns an `AsyncCall` at once; result and error
// handlers run later, at most once each; `repeat` and `defer` run functions on a timer, and
// `cancel` stops any of them. Every duration is in seconds, fractions allowed.
//
// The wire is the server's: `POST <prefix>/<name>` with a JSON body (an array: positional
// arguments, an object: by keyword) answered with the JSON result or a JSON error object
// `{code, message, details}` whose `code` comes from the server's one table.

/** @type {readonly string[]} */
const STATUSES = Object.freeze(["pending", "completed", "failed", "cancelled"]);
export { STATUSES };

/** The one error class: a wire code from the server's table, or a client-side one. */
export class NonBlockingError extends Error {
  constructor(code, message, { status = null, details = null, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "NonBlockingError";
    this.code = code;
    this.status = status;
    this.details = details;
    // The function's own error value, when its error type is `Serialize` on the server.
    this.value = details && typeof details === "object" && "value" in details ? details.value : undefined;
  }
}

// ---- durations -------------------------------------------------------------------------

// setTimeout keeps its delay in 32 bits: a longer one would fire at once. Longer delays are
// chained; an infinite one never fires (pending until cancelled), as on the Rust side.
const MAX_TIMER_MS = 2 ** 31 - 1;

function milliseconds(seconds, what) {
  if (typeof seconds !== "number" || Number.isNaN(seconds) || seconds < 0) {
    throw new RangeError(`${what} must be a number of seconds, zero or more; got ${String(seconds)}`);
  }
  return seconds * 1000;
}

/** Runs `fn` after `ms`; returns a function that stops it. */
function after(ms, fn) {
  let handle = null;
  let stopped = false;
  const due = now() + ms;
  const arm = () => {
    if (stopped || !Number.isFinite(due)) return;
    const left = due - now();
    if (left > MAX_TIMER_MS) {
      handle = setTimeout(arm, MAX_TIMER_MS);
    } else {
      handle = setTimeout(() => {
        if (!stopped) fn();
      }, Math.max(0, left));
    }
  };
  arm();
  return () => {
    stopped = true;
    if (handle !== null) clearTimeout(handle);
  };
}

const now = () => (typeof performance !== "undefined" ? performance.now() : Date.now());

// ---- calls -----------------------------------------------------------------------------

/** A call in flight: its status, its outcome, and handlers that run when it finishes. */
export class AsyncCall {
  #status = "pending";
  #result = undefined;
  #error = null;
  #resultHandlers = [];
  #errorHandlers = [];
  #progressHandlers = [];
  // The latest progress value (`#hasProgress`), and whether one waits to be delivered.
  #progress = undefined;
  #hasProgress = false;
  #progressDue = false;
  // A streaming function's items read and not yet handed on, their handlers, and the reader
  // and iterator waiting for room or for an item.
  #items = [];
  #itemHandlers = [];
  #wakeReader = null;
  #wakeIterator = null;
  #observed = false;
  #abort = null;
  #stopTimeout = null;
  #deadline = Infinity;
  #label;
  #settled;
  #resolve;

  /** @internal */
  constructor(label, start) {
    this.#label = label;
    this.#settled = new Promise((resolve) => {
      this.#resolve = resolve;
    });
    const abort = new AbortController();
    this.#abort = abort;
    // Started after this constructor returns, so that nothing finishes inside `callAsync`.
    queueMicrotask(() => {
      if (this.#status !== "pending") return;
      let started;
      try {
        // The deadline is read when the request goes out: `.timeout()` chained on the call
        // (before this microtask) travels with it.
        started = Promise.resolve(
          start(abort.signal, () => this.#deadline, (value) => this.#reported(value), (item) => this.#item(item)),
        );
      } catch (error) {
        started = Promise.reject(error);
      }
      started.then(
        (value) => this.#finish("completed", value, null),
        (error) => this.#finish("failed", undefined, asError(error)),
      );
    });
  }

  /** `pending`, `completed`, `failed` or `cancelled`. */
  get status() {
    return this.#status;
  }

  /** The value; throws the call's error if it failed, and `not_finished` while pending. */
  get result() {
    this.#ensureFinished("result");
    if (this.#error !== null) {
      this.#observed = true;
      throw this.#error;
    }
    return this.#result;
  }

  /** The error, or `null` if the call completed; throws `not_finished` while pending. */
  get error() {
    this.#ensureFinished("error");
    this.#observed = true;
    return this.#error;
  }

  /** Handlers for the value and, optionally, the error; each runs at most once. */
  onResult(resultHandler, errorHandler) {
    if (typeof resultHandler !== "function") throw new TypeError("onResult needs a function");
    this.#resultHandlers.push(resultHandler);
    if (errorHandler !== undefined) this.onError(errorHandler);
    this.#deliverIfFinished();
    return this;
  }

  /** A handler for the error (a failure, a timeout or a cancellation); runs at most once. */
  onError(errorHandler) {
    if (typeof errorHandler !== "function") throw new TypeError("onError needs a function");
    this.#observed = true;
    this.#errorHandlers.push(errorHandler);
    this.#deliverIfFinished();
    return this;
  }

  /** A handler for the function's progress while it runs (each value its `Progress` reports,
   * or only the latest when they come faster than they are handled); the last one arrives
   * before the result and error handlers run. Attached while the call runs, it first gets the
   * latest value so far; attached after the call finished, it gets the last value once (before
   * the result handlers attached after it), unless the call was cancelled. */
  onProgress(progressHandler) {
    if (typeof progressHandler !== "function") throw new TypeError("onProgress needs a function");
    if (this.#status !== "pending") {
      if (this.#hasProgress) {
        const value = this.#progress;
        queueMicrotask(() => runHandler(progressHandler, value, this.#label));
      }
      return this;
    }
    this.#progressHandlers.push(progressHandler);
    if (this.#hasProgress && !this.#progressDue) {
      // The value so far, for this handler only: the others have had it.
      const value = this.#progress;
      queueMicrotask(() => {
        if (this.#status === "pending") runHandler(progressHandler, value, this.#label);
      });
    }
    return this;
  }

  /** A handler for each item of a function that streams them, in order, each once; items
   * read before the first handler is attached are kept for it (a few: the server waits while
   * they are not handled). The call's value is then the number of items, after the last one
   * was handled. */
  onItem(itemHandler) {
    if (typeof itemHandler !== "function") throw new TypeError("onItem needs a function");
    this.#itemHandlers.push(itemHandler);
    if (this.#items.length > 0) queueMicrotask(() => this.#handItems());
    return this;
  }

  /** `for await (const item of call)`: the items, in order, each once, read as the loop asks
   * for them (the server waits while a few wait here unread). The loop throws the call's
   * error after the items before it; leaving the loop early cancels the call. */
  [Symbol.asyncIterator]() {
    this.#observed = true;
    return {
      next: async () => {
        for (;;) {
          if (this.#items.length > 0) {
            const value = this.#items.shift();
            this.#makeRoom();
            return { value, done: false };
          }
          if (this.#status !== "pending") {
            if (this.#error !== null) throw this.#error;
            return { value: undefined, done: true };
          }
          await new Promise((resolve) => {
            this.#wakeIterator = resolve;
          });
        }
      },
      return: async () => {
        this.cancel();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  /** Fails the call with `timed_out` if it is still pending after `seconds`; of two
   * timeouts, the earlier deadline wins. Returns the call. */
  timeout(seconds) {
    const ms = milliseconds(seconds, "timeout");
    const deadline = now() + ms;
    if (this.#status !== "pending" || deadline >= this.#deadline) return this;
    this.#deadline = deadline;
    if (this.#stopTimeout) this.#stopTimeout();
    this.#stopTimeout = after(ms, () => {
      const error = new NonBlockingError("timed_out", `${this.#label} timed out after ${seconds} s`);
      this.#abort?.abort(error);
      this.#finish("failed", undefined, error);
    });
    return this;
  }

  /** Cancels the call: the request is aborted (the server sees the client go away and
   * cancels the function), and error handlers get a `cancelled` error. Idempotent. */
  cancel() {
    if (this.#status !== "pending") return;
    const error = new NonBlockingError("cancelled", `${this.#label} was cancelled`);
    this.#abort?.abort(error);
    this.#finish("cancelled", undefined, error);
  }

  /** `await call`: the value, or a rejection with the error, after the handlers attached
   * before it finished have run. */
  then(onFulfilled, onRejected) {
    this.#observed = true;
    return this.#settled
      .then(() => (this.#error !== null ? Promise.reject(this.#error) : this.#result))
      .then(onFulfilled, onRejected);
  }

  catch(onRejected) {
    return this.then(undefined, onRejected);
  }

  finally(onFinally) {
    return this.then(
      (value) => Promise.resolve(onFinally?.()).then(() => value),
      (error) => Promise.resolve(onFinally?.()).then(() => Promise.reject(error)),
    );
  }

  #ensureFinished(what) {
    if (this.#status === "pending") {
      throw new NonBlockingError("not_finished", `${this.#label} has not finished: its ${what} is not there yet`);
    }
  }

  // A progress frame arrived: delivered after the frames read with it (only the latest), or
  // right away if the call finishes first.
  #reported(value) {
    if (this.#status !== "pending") return;
    this.#progress = value;
    this.#hasProgress = true;
    if (this.#progressDue) return;
    this.#progressDue = true;
    queueMicrotask(() => this.#deliverProgress());
  }

  // An item frame arrived: handed to the item handlers at once, or kept (for handlers still to
  // come, or for the iterator). Returns a promise while too many are kept: the reader waits.
  #item(value) {
    if (this.#status !== "pending") return null;
    if (this.#itemHandlers.length > 0 && this.#items.length === 0) {
      for (const handler of this.#itemHandlers.slice()) runHandler(handler, value, this.#label);
      return null;
    }
    this.#items.push(value);
    this.#wake("iterator");
    if (this.#items.length < ITEMS_KEPT) return null;
    return new Promise((resolve) => {
      this.#wakeReader = resolve;
    });
  }

  #handItems() {
    if (this.#itemHandlers.length === 0) return;
    for (const value of this.#items.splice(0)) {
      for (const handler of this.#itemHandlers.slice()) runHandler(handler, value, this.#label);
    }
    this.#makeRoom();
  }

  #makeRoom() {
    if (this.#items.length < ITEMS_KEPT) this.#wake("reader");
  }

  #wake(which) {
    const wake = which === "reader" ? this.#wakeReader : this.#wakeIterator;
    if (which === "reader") this.#wakeReader = null;
    else this.#wakeIterator = null;
    wake?.();
  }

  #deliverProgress() {
    if (!this.#progressDue) return;
    this.#progressDue = false;
    for (const handler of this.#progressHandlers.slice()) runHandler(handler, this.#progress, this.#label);
  }

  #finish(status, result, error) {
    if (this.#status !== "pending") return; // one outcome per call
    // The last progress goes before the outcome; none after it. A cancelled call says no more.
    if (status !== "cancelled") this.#deliverProgress();
    else this.#hasProgress = false;
    this.#progressDue = false;
    this.#progressHandlers = [];
    // Items kept for handlers go before the outcome; a cancelled call hands on no more.
    if (status === "cancelled") this.#items = [];
    else this.#handItems();
    this.#itemHandlers = [];
    this.#status = status;
    this.#result = result;
    this.#error = error;
    this.#abort = null;
    if (this.#stopTimeout) this.#stopTimeout();
    this.#deliver();
    this.#resolve();
    this.#wake("reader");
    this.#wake("iterator");
    if (error !== null && status === "failed") {
      // Nobody handled it: say so once, as the Rust side reports unobserved failures.
      setTimeout(() => {
        if (!this.#observed) console.error(`nonblocking: ${this.#label} failed and nobody handled it:`, error);
      }, 0);
    }
  }

  #deliverIfFinished() {
    // Never inside the call that attaches the handler.
    if (this.#status !== "pending") queueMicrotask(() => this.#deliver());
  }

  #deliver() {
    const results = this.#resultHandlers.splice(0);
    const errors = this.#errorHandlers.splice(0);
    if (this.#error === null) {
      for (const handler of results) runHandler(handler, this.#result, this.#label);
    } else {
      for (const handler of errors) runHandler(handler, this.#error, this.#label);
    }
  }
}

function runHandler(handler, argument, label) {
  try {
    handler(argument);
  } catch (error) {
    console.error(`nonblocking: a handler of ${label} threw:`, error);
  }
}

function asError(error) {
  if (error instanceof NonBlockingError) return error;
  if (error && error.name === "AbortError") {
    return new NonBlockingError("cancelled", "the call was cancelled", { cause: error });
  }
  return new NonBlockingError("failed", error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}

// ---- the client ------------------------------------------------------------------------

/** Where the server is and what every call sends. */
export class Client {
  #url;
  #headers;
  #credentials;
  #fetch;
  #intercept;
  #timeout;
  #traceparent;

  /**
   * @param {object} [options]
   * @param {string} [options.url] the server's prefix, e.g. `https://api.example/rpc`; by
   *   default the folder this module was served from (the server serves it under its prefix)
   * @param {Record<string, string>} [options.headers] sent with every call
   * @param {RequestCredentials} [options.credentials] `same-origin` (default), `include`, `omit`
   * @param {typeof fetch} [options.fetch] the fetch to use (tests, other runtimes)
   * @param {(name: string, headers: Record<string, string>) => void | Promise<void>} [options.intercept]
   *   runs before every call, and may change its headers (a token refreshed now)
   * @param {number} [options.timeout] seconds every call may take (as `.timeout(seconds)` on
   *   each); the server is told the time left, and stops the function when it runs out
   * @param {string | (() => string | undefined)} [options.traceparent] the page's W3C
   *   `traceparent` (or a function giving it per call), sent with every call so the server's
   *   span for it joins the page's trace
   */
  constructor({
    url = defaultUrl(),
    headers = {},
    credentials = "same-origin",
    fetch: doFetch,
    intercept,
    timeout,
    traceparent,
  } = {}) {
    if (intercept !== undefined && typeof intercept !== "function") {
      throw new TypeError("intercept is a function of the call's name and headers");
    }
    if (timeout !== undefined) milliseconds(timeout, "timeout");
    if (traceparent !== undefined && typeof traceparent !== "string" && typeof traceparent !== "function") {
      throw new TypeError("traceparent is a string, or a function that returns one");
    }
    this.#timeout = timeout;
    this.#traceparent = traceparent;
    this.#url = url === undefined ? undefined : String(url).replace(/\/+$/, "");
    this.#headers = { ...headers };
    this.#credentials = credentials;
    this.#fetch = doFetch;
    this.#intercept = intercept;
  }

  /** The server's prefix this client calls. */
  get url() {
    return this.#url;
  }

  /** A client that sends these headers too (e.g. a bearer token), sharing everything else. */
  withHeaders(headers) {
    return new Client({
      url: this.#url,
      headers: { ...this.#headers, ...headers },
      credentials: this.#credentials,
      fetch: this.#fetch,
      intercept: this.#intercept,
      timeout: this.#timeout,
      traceparent: this.#traceparent,
    });
  }

  /** Calls the server function `name` with positional arguments (and, with `kw({...})` last,
   * keyword arguments too), or runs `fn(...args)` without waiting when given a function. */
  callAsync(nameOrFn, ...args) {
    if (typeof nameOrFn === "function") {
      return new AsyncCall(nameOrFn.name ? `${nameOrFn.name}()` : "a function", () => nameOrFn(...args));
    }
    // One argument of bytes (an ArrayBuffer, a typed array, a Blob) is the body itself.
    if (args.length === 1 && isBinary(args[0])) return this.#call(nameOrFn, undefined, args[0]);
    return this.#call(nameOrFn, mixedBody(args));
  }

  /** Calls the server function `name` with keyword arguments: `{ item, quantity: 2 }`. */
  callAsyncNamed(name, kwargs = {}) {
    if (kwargs === null || typeof kwargs !== "object" || Array.isArray(kwargs)) {
      throw new TypeError("callAsyncNamed takes the keyword arguments as an object");
    }
    return this.#call(name, kwargs);
  }

  #call(name, body, bytes) {
    if (typeof name !== "string" || name === "") throw new TypeError("a server function's name is a non-empty string");
    const label = `server function \`${name}\``;
    const call = new AsyncCall(label, async (signal, deadline, progress, item) => {
      if (this.#url === undefined) {
        throw new NonBlockingError(
          "transport",
          "no server URL: pass `new Client({ url })` or call `configure({ url })` first",
        );
      }
      const doFetch = this.#fetch ?? globalThis.fetch;
      const headers = { ...this.#headers };
      const traceparent = typeof this.#traceparent === "function" ? this.#traceparent() : this.#traceparent;
      if (typeof traceparent === "string" && traceparent !== "") headers.traceparent = traceparent;
      if (this.#intercept) {
        try {
          await this.#intercept(name, headers);
        } catch (error) {
          throw new NonBlockingError("transport", `the interceptor failed before calling ${label}: ${error?.message ?? error}`, {
            cause: error,
          });
        }
        if (signal.aborted) throw signal.reason;
      }
      // The time the call still has, measured now (after the interceptor): the server runs the
      // function until the earlier of its own timeout and this, whatever its clock says.
      const left = deadline() - now();
      if (Number.isFinite(left)) headers["Nonblocking-Timeout"] = String(Math.max(0, Math.floor(left)));
      let response;
      try {
        response = await doFetch(`${this.#url}/${encodeURIComponent(name)}`, {
          method: "POST",
          // Always JSON or bytes: the interceptor cannot make a call a "simple" cross-site
          // request. Frames (progress, then the answer) from a function that reports progress.
          headers: { ...headers, "Content-Type": bytes === undefined ? "application/json" : OCTET_STREAM, Accept: ACCEPT },
          body: bytes === undefined ? JSON.stringify(body) : bytes,
          credentials: this.#credentials,
          signal,
        });
      } catch (error) {
        if (signal.aborted) throw signal.reason ?? asError(error);
        throw new NonBlockingError("transport", `could not reach the server at ${this.#url}: ${error?.message ?? error}`, {
          cause: error,
        });
      }
      // Read once: each `headers.get` of a fetch response costs time on every call.
      const kind = response.ok ? bodyKind(response) : "json";
      if (kind === "frames") return readFrames(response, progress, item, this.#url);
      // A download (items of a bytes type) comes as its chunks, read as they are taken; a value
      // of a bytes type as the bytes themselves.
      if (kind === "download") return readChunks(response, item, this.#url);
      if (kind === "bytes") return response.arrayBuffer();
      const text = await response.text();
      let json;
      try {
        json = text === "" ? null : JSON.parse(text);
      } catch (error) {
        throw new NonBlockingError(
          "transport",
          `the server at ${this.#url} answered ${response.status} with a body that is not JSON: is this a nonblocking server?`,
          { status: response.status, cause: error },
        );
      }
      if (response.ok) return json;
      if (json && typeof json === "object" && typeof json.code === "string") {
        throw new NonBlockingError(json.code, String(json.message ?? json.code), {
          status: response.status,
          details: json.details ?? null,
        });
      }
      throw new NonBlockingError("transport", `the server answered ${response.status} without an error object`, {
        status: response.status,
      });
    });
    return this.#timeout === undefined ? call : call.timeout(this.#timeout);
  }
}

// ---- frames -----------------------------------------------------------------------------

// What a call accepts: newline-delimited JSON frames, or the plain value.
const ACCEPT = "application/x-ndjson, application/json";

// How many items a call keeps unhandled before it stops reading (and the server waits).
const ITEMS_KEPT = 16;

// The media type of raw bytes: a bytes argument's body, a bytes value's answer.
const OCTET_STREAM = "application/octet-stream";

/**
 * What a successful answer's body is, from its media type: `frames` (newline-delimited JSON),
 * `download` (`application/octet-stream; stream=items`), `bytes` (a bytes value) or `json`.
 */
function bodyKind(response) {
  const [type, ...parameters] = (response.headers.get("content-type") ?? "").split(";");
  switch (type.trim().toLowerCase()) {
    case "application/x-ndjson":
      return "frames";
    case OCTET_STREAM:
      return parameters.some((parameter) => parameter.trim() === "stream=items") ? "download" : "bytes";
    default:
      return "json";
  }
}

/**
 * Reads a download as it arrives: each chunk of the body (a `Uint8Array`) goes to `item`
 * (which returns a promise to wait for while its items are not taken). The body's end is the
 * download's: the call's value is the number of bytes. A body broken off (the function failed
 * after its first bytes) is a `transport` error, never a shorter file.
 */
async function readChunks(response, item, url) {
  const reader = response.body.getReader();
  let bytes = 0;
  for (;;) {
    let read;
    try {
      read = await reader.read();
    } catch (error) {
      throw new NonBlockingError("transport", `the download from ${url} broke off before its end`, { cause: error });
    }
    if (read.done) return bytes;
    if (read.value.byteLength === 0) continue;
    bytes += read.value.byteLength;
    const wait = item(read.value);
    if (wait) await wait;
  }
}

/** Whether `value` is bytes the client sends as a body: an ArrayBuffer, a view of one (a
 * Uint8Array, a DataView), or a Blob. */
function isBinary(value) {
  return (
    value instanceof ArrayBuffer ||
    ArrayBuffer.isView(value) ||
    (typeof Blob !== "undefined" && value instanceof Blob)
  );
}

/**
 * Reads a framed answer as it arrives: `{"progress": v}` lines go to `progress`, `{"item": v}`
 * lines to `item` (which returns a promise to wait for while its items are not taken), then
 * `{"value": v}` is the call's value, `{"end": n}` (after n items) too, or `{"error": {...},
 * "status": n}` its error. The bytes are decoded as a stream (a character cut between two
 * chunks is joined) and split at newlines, which JSON never holds inside a value. A body that
 * ends before the answer was cut off.
 */
async function readFrames(response, progress, item, url) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let pending = "";
  let finished = false;
  let items = 0;
  const frame = (line) => {
    let parsed;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      throw new NonBlockingError("transport", `the server at ${url} sent a line that is not a frame`, { cause: error });
    }
    if (parsed !== null && typeof parsed === "object") {
      if ("item" in parsed) {
        items += 1;
        return { wait: item(parsed.item) };
      }
      if ("value" in parsed) return { value: parsed.value };
      if ("end" in parsed) {
        if (parsed.end !== items) {
          throw new NonBlockingError("transport", `the stream from ${url} ended after ${items} items, but the server sent ${parsed.end}`);
        }
        return { value: parsed.end };
      }
      if ("error" in parsed && parsed.error && typeof parsed.error.code === "string") {
        throw new NonBlockingError(parsed.error.code, String(parsed.error.message ?? parsed.error.code), {
          status: typeof parsed.status === "number" ? parsed.status : null,
          details: parsed.error.details ?? null,
        });
      }
      if ("progress" in parsed) {
        progress(parsed.progress);
        return null;
      }
    }
    throw new NonBlockingError("transport", `the server at ${url} sent a line that is not a frame`);
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      finished = done;
      pending += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let end;
      while ((end = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 1);
        if (line.trim() === "") continue;
        const answer = frame(line);
        if (answer === null) continue;
        if ("wait" in answer) {
          // Too many items not taken yet: stop reading (the server waits) until there is room.
          if (answer.wait) await answer.wait;
          continue;
        }
        return answer.value;
      }
      if (done) {
        throw new NonBlockingError("transport", `the answer from ${url} was cut off before the call's result`);
      }
    }
  } finally {
    // An answer (or a bad line) before the body's end: stop reading the rest.
    if (!finished) reader.cancel().catch(() => {});
  }
}

/** Keyword arguments for `callAsync`, after the positional ones. */
class Keywords {
  constructor(keywords) {
    this.keywords = keywords;
  }
}

/**
 * Keyword arguments to give `callAsync` after the positional ones, as Anvil's
 * `call_async("update", item, flag=True)` is `callAsync("update", item, kw({ flag: true }))`.
 * They travel as the server's mixed form, `{"$args": [item], "flag": true}`.
 */
export function kw(keywords) {
  if (keywords === null || typeof keywords !== "object" || Array.isArray(keywords)) {
    throw new TypeError("kw takes the keyword arguments as an object");
  }
  if ("$args" in keywords) throw new TypeError("`$args` cannot be a keyword: it holds the positional arguments");
  return new Keywords({ ...keywords });
}

/** The body of a call: the positional arguments, or the mixed form when the last is `kw`. */
function mixedBody(args) {
  const last = args.length - 1;
  if (args.some((arg, at) => arg instanceof Keywords && at !== last)) {
    throw new TypeError("kw({...}) goes last, after the positional arguments");
  }
  if (last < 0 || !(args[last] instanceof Keywords)) return args;
  return { $args: args.slice(0, last), ...args[last].keywords };
}

function defaultUrl() {
  // Served by the server at `<prefix>/nonblocking.js`: the prefix is this module's folder.
  try {
    const here = new URL(".", import.meta.url);
    return here.protocol === "http:" || here.protocol === "https:" ? here.href : undefined;
  } catch {
    return undefined;
  }
}

let shared = new Client();

/** Sets the options of the module-level `callAsync` and `callAsyncNamed`. */
export function configure(options) {
  shared = new Client(options);
  return shared;
}

/** `callAsync(name, ...args)` on the configured client; `callAsync(fn, ...args)` runs `fn`. */
export function callAsync(nameOrFn, ...args) {
  return shared.callAsync(nameOrFn, ...args);
}

/** `callAsyncNamed(name, { ...kwargs })` on the configured client. */
export function callAsyncNamed(name, kwargs) {
  return shared.callAsyncNamed(name, kwargs);
}

/**
 * Typed stubs: `stubs(client).todo.add(item)` is `client.callAsync("todo.add", item)`. Without
 * a client, each call uses the one `configure` set up at the time of the call. `api.d.ts`
 * (served by the server) gives them their types. `then` is never a stub, so that awaiting the
 * object is harmless: call a function named `then` with `callAsync`.
 */
export function stubs(client) {
  return stub([], client);
}

function stub(path, client) {
  const call = (...args) => (client ?? shared).callAsync(path.join("."), ...args);
  return new Proxy(call, {
    get(_, key) {
      if (typeof key !== "string" || key === "then") return undefined;
      return stub([...path, key], client);
    },
  });
}

// ---- tests --------------------------------------------------------------------------------

/** The wire statuses of the codes a mock answer may throw (the server's table). */
const MOCK_STATUSES = Object.freeze({
  not_found: 404,
  invalid_arguments: 422,
  unauthorized: 401,
  forbidden: 403,
  payload_too_large: 413,
  timed_out: 504,
  failed: 500,
  panicked: 500,
  overloaded: 503,
  shutting_down: 503,
});

/**
 * A stand-in for the server in page tests: answers the names you choose, records every call,
 * and plugs into a client as its `fetch` (`configure({ url: "/rpc", fetch: mock.fetch })`), so
 * the code under test runs unchanged. An answer returns the value (or a promise of it), or
 * throws a `NonBlockingError` to answer that error as the server would; a name without an
 * answer is `not_found`.
 */
export class Mock {
  #answers = new Map();
  /** Every call so far: `{ name, args, headers }`, in order. */
  calls = [];

  /** Answers calls of `name` with `answer(args, { progress, item })` (the JSON arguments: an
   * array, or an object by keyword); `progress(value)` reports progress as a server function
   * does, and `item(value)` sends an item as a streaming one does (an answer that sent items
   * ends with their number, whatever it returns). */
  answer(name, answer) {
    if (typeof answer !== "function") throw new TypeError("an answer is a function of the arguments");
    this.#answers.set(name, answer);
    return this;
  }

  /** The calls of `name` so far. */
  callsOf(name) {
    return this.calls.filter((call) => call.name === name);
  }

  /** The `fetch` to give a `Client` (or `configure`). */
  get fetch() {
    return async (url, init = {}) => {
      const name = decodeURIComponent(String(url).split("/").pop());
      // A bytes argument is recorded (and given to the answer) as one Uint8Array.
      const args =
        init.body === undefined || init.body === ""
          ? null
          : typeof init.body === "string"
            ? JSON.parse(init.body)
            : [new Uint8Array(await new Response(init.body).arrayBuffer())];
      this.calls.push({ name, args, headers: { ...(init.headers ?? {}) } });
      const reply = (status, body) =>
        new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
      const answer = this.#answers.get(name);
      if (answer === undefined) {
        return reply(404, { code: "not_found", message: `the mock has no answer for \`${name}\`` });
      }
      // The answer may report progress, as a server function does: then the reply is frames.
      const encoder = new TextEncoder();
      let stream = null;
      let streaming = null;
      const started = new Promise((resolve) => (streaming = resolve));
      let items = 0;
      const send = (frame) => {
        if (stream === null) {
          stream = new TransformStream();
          streaming();
        }
        stream.writer ??= stream.writable.getWriter();
        // A reader that stopped (the call ended or was cancelled) takes nothing more.
        stream.writer.write(encoder.encode(`${JSON.stringify(frame)}\n`)).catch(() => {});
      };
      const progress = (value) => send({ progress: value });
      const item = (value) => {
        items += 1;
        send({ item: value === undefined ? null : value });
      };
      const outcome = (async () => {
        try {
          const value = await answer(args, { progress, item });
          if (init.signal?.aborted) throw init.signal.reason;
          return { status: 200, body: value === undefined ? null : value };
        } catch (error) {
          if (init.signal?.aborted) throw init.signal.reason ?? error;
          if (error instanceof NonBlockingError) {
            const status = error.status ?? MOCK_STATUSES[error.code] ?? 500;
            return { status, body: { code: error.code, message: error.message, details: error.details } };
          }
          return { status: 500, body: { code: "failed", message: String(error?.message ?? error) } };
        }
      })();
      if ((await Promise.race([outcome.then(() => false), started.then(() => true)])) === false) {
        const { status, body } = await outcome;
        // Bytes are answered as a bytes value is: the bytes themselves.
        if (status === 200 && isBinary(body)) {
          return new Response(body, { status, headers: { "Content-Type": OCTET_STREAM } });
        }
        return reply(status, body);
      }
      outcome.then(
        ({ status, body }) => {
          const end = status !== 200 ? { error: body, status } : items > 0 ? { end: items } : { value: body };
          stream.writer.write(encoder.encode(`${JSON.stringify(end)}\n`)).catch(() => {});
          stream.writer.close().catch(() => {});
        },
        (aborted) => stream.writer.abort(aborted).catch(() => {}),
      );
      return new Response(stream.readable, { status: 200, headers: { "Content-Type": "application/x-ndjson" } });
    };
  }
}

// ---- timers ----------------------------------------------------------------------------

function runBody(fn, what) {
  try {
    return Promise.resolve(fn()).catch((error) => console.error(`nonblocking: a ${what} body failed:`, error));
  } catch (error) {
    console.error(`nonblocking: a ${what} body threw:`, error);
    return Promise.resolve();
  }
}

/** A running `repeat`. */
export class RepeatRef {
  #cancelled = false;
  #calls = 0;
  #stop = null;

  /** @internal */
  constructor(fn, seconds) {
    // Zero means once per timer tick (a millisecond), never a busy loop.
    const interval = Math.max(milliseconds(seconds, "the interval"), 1);
    const start = now();
    let due = 0; // the grid index of the next call
    const schedule = () => {
      if (this.#cancelled) return;
      // The next tick on the grid start + k × interval: no drift, and ticks missed while the
      // body ran (or the tab slept) are skipped, not run in a burst. Counting by index, not
      // by the clock alone, keeps a timer that fires a little early from running twice.
      const elapsed = now() - start;
      due = Math.max(due + 1, Math.floor(elapsed / interval) + 1);
      this.#stop = after(due * interval - elapsed, tick);
    };
    const tick = () => {
      if (this.#cancelled) return;
      this.#calls += 1;
      // A body that returns a promise is awaited: the next call never overlaps it.
      runBody(fn, "repeat").then(schedule);
    };
    schedule();
  }

  /** How many times the body has been called. */
  get calls() {
    return this.#calls;
  }

  get isCancelled() {
    return this.#cancelled;
  }

  /** Stops the next call from running (one already running finishes). Idempotent. */
  cancel() {
    this.#cancelled = true;
    if (this.#stop) this.#stop();
  }
}

/** A pending `defer`. */
export class DeferRef {
  #fn;
  #seconds;
  #stop = null;
  #pending = true;

  /** @internal */
  constructor(fn, seconds) {
    this.#fn = fn;
    this.#seconds = seconds;
    this.#arm(milliseconds(seconds, "the delay"));
  }

  #arm(ms) {
    this.#stop = after(ms, () => {
      this.#pending = false;
      runBody(this.#fn, "defer");
    });
  }

  /** Whether it has neither fired nor been cancelled. */
  get isPending() {
    return this.#pending;
  }

  /** Moves a pending defer to fire `seconds` from now (by default its first delay): the way
   * to debounce. Returns `false`, doing nothing, if it already fired or was cancelled. */
  reset(seconds = this.#seconds) {
    const ms = milliseconds(seconds, "the delay");
    if (!this.#pending) return false;
    this.#stop?.();
    this.#arm(ms);
    return true;
  }

  /** Stops it from firing. Idempotent. */
  cancel() {
    this.#pending = false;
    this.#stop?.();
  }
}

/** Calls `fn` every `seconds`. */
export function repeat(fn, seconds) {
  if (typeof fn !== "function") throw new TypeError("repeat needs a function");
  return new RepeatRef(fn, seconds);
}

/** Calls `fn` once, `seconds` from now. */
export function defer(fn, seconds) {
  if (typeof fn !== "function") throw new TypeError("defer needs a function");
  return new DeferRef(fn, seconds);
}

/** `ref.cancel()`, or nothing for `null` / `undefined`: start with `let save = null`. */
export function cancel(ref) {
  if (ref !== null && ref !== undefined) ref.cancel();
}
