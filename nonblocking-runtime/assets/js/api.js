// Typed stubs of the server's functions: `api.todo.add(item)` is `callAsync("todo.add", item)`.
// Their types are in `api.d.ts`, which the server generates from the functions' Rust
// signatures (feature `schema`) and serves beside this file.
import { stubs } from "./nonblocking.js";

/** The stubs, calling through the client `configure` set up (looked up at each call). */
export const api = stubs();

/** Stubs that call through `client` (another server, other headers). */
export function apiFor(client) {
  return stubs(client);
}
