// The JS client's own cost: the same `add(1, 2)` call, one at a time, through `callAsync` and
// through a bare `fetch` + `JSON.parse` loop sending the same body and headers, against the
// same server, in one run. Rounds alternate between the two so that a slow moment of the
// machine lands on both.
//
//   node clients/js/bench/client_cost.mjs <server prefix URL> [calls per round] [rounds]
//
// Prints one `key value` line per figure (calls/s as the median round; p50 and p99 over every
// call), for the report.

import { Client } from "../nonblocking.js";

const [url, perRound = "2000", rounds = "10"] = process.argv.slice(2);
if (url === undefined) {
  console.error("usage: client_cost.mjs <server prefix URL> [calls per round] [rounds]");
  process.exit(2);
}
const calls = Number(perRound);
const client = new Client({ url });

// What the client sends for `callAsync("add", 1, 2)`, written out by hand.
const init = {
  method: "POST",
  headers: { "Content-Type": "application/json", Accept: "application/x-ndjson, application/json" },
  credentials: "same-origin",
};

async function bare() {
  const response = await fetch(`${url}/add`, { ...init, body: JSON.stringify([1, 2]) });
  const text = await response.text();
  if (!response.ok) throw new Error(`the server answered ${response.status}: ${text}`);
  return JSON.parse(text);
}

async function ours() {
  return client.callAsync("add", 1, 2);
}

async function round(call, latencies) {
  const start = performance.now();
  for (let i = 0; i < calls; i++) {
    const sent = performance.now();
    const value = await call();
    latencies.push(performance.now() - sent);
    if (value !== 3) throw new Error(`add(1, 2) gave ${value}`);
  }
  return calls / ((performance.now() - start) / 1000);
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};

// Warm up both paths (connections, JIT) before anything is counted.
await round(bare, []);
await round(ours, []);

const sides = { bare: { rates: [], latencies: [] }, ours: { rates: [], latencies: [] } };
for (let i = 0; i < Number(rounds); i++) {
  const order = i % 2 === 0 ? ["bare", "ours"] : ["ours", "bare"];
  for (const side of order) {
    const call = side === "bare" ? bare : ours;
    sides[side].rates.push(await round(call, sides[side].latencies));
  }
}
for (const [side, { rates, latencies }] of Object.entries(sides)) {
  console.log(`js_${side}_calls_per_s ${median(rates).toFixed(0)}`);
  console.log(`js_${side}_p50_us ${(quantile(latencies, 0.5) * 1000).toFixed(1)}`);
  console.log(`js_${side}_p99_us ${(quantile(latencies, 0.99) * 1000).toFixed(1)}`);
}
// Time per call, ours over bare: the row's ratio.
console.log(`js_time_ratio ${(median(sides.bare.rates) / median(sides.ours.rates)).toFixed(3)}`);
