// What a page of examples/browser_todo writes, against the stubs the server generates from the
// Rust signatures (`api.d.ts`) and the client's declarations. `cargo test --test openapi`
// checks it with `tsc --strict`. The deliberate errors must stay errors: a wrong declaration
// makes a `@ts-expect-error` unused, which fails the check.
import { api, apiFor, type Draft, type Item } from "./api.js";
import { Client, type AsyncCall } from "./nonblocking.js";

export async function page(show: (text: string) => void): Promise<void> {
  // Click -> call the server function -> show the outcome.
  const call: AsyncCall<Item, { title: string }> = api.todo.add("milk");
  call.onResult(
    (item) => show(`added #${item.id.toFixed(0)}: ${item.title.toUpperCase()}`),
    (error) => show(error.code === "failed" ? `refused: ${JSON.stringify(error.value?.title)}` : error.message),
  );
  const beats: number = await api.todo.ping();
  const draft: Draft = await api.todo.saves();
  show(`${beats} beats, ${draft.saves} saves of ${draft.text.length} characters`);
  const elsewhere = apiFor(new Client({ url: "https://elsewhere.example/rpc", headers: { Authorization: "Bearer x" } }));
  elsewhere.todo.save_draft("text").timeout(2).cancel();
  const stopped: number = await api.todo.slow_stopped();
  void stopped;
  // A progress bar: the handler gets the function's progress type.
  const imported: number = await api.todo.import(5).onProgress((progress) => show(`${progress.done} of ${progress.of}`));
  void imported;
  // A stream: its items have the function's item type, its value is their number.
  const listed: number = await api.todo.suggestions(3).onItem((suggestion) => show(`${suggestion.n}: ${suggestion.title}`));
  void listed;
  for await (const suggestion of api.todo.suggestions(3)) show(suggestion.title);
  // Bytes: a download's chunks are Uint8Arrays, its value its size; a Blob (or a buffer, or
  // a view) sent.
  const chunks: Uint8Array[] = [];
  const exported: number = await api.todo.export().onItem((chunk) => chunks.push(chunk));
  const size: number = await api.todo.measure(new Blob([new Uint8Array(exported)]));
  await api.todo.measure(new Uint8Array(8).buffer);
  void size;

  // @ts-expect-error: the title is a string
  api.todo.add(42);
  // @ts-expect-error: todo.add takes one argument
  api.todo.add("a", "b");
  // @ts-expect-error: an item has no `name`
  call.onResult((item) => item.name);
  // @ts-expect-error: the error value is a NoTitle, which has no `id`
  call.onError((error) => error.value?.id);
  // @ts-expect-error: no function `todo.remove`
  api.todo.remove(1);
  // @ts-expect-error: the number of saves is a number
  const saves: string = draft.saves;
  void saves;
  // @ts-expect-error: an import's progress has no `percent`
  api.todo.import(5).onProgress((progress) => progress.percent);
  // @ts-expect-error: a file is bytes, not text
  api.todo.measure("text");
  // @ts-expect-error: a download's chunks are bytes, not strings
  api.todo.export().onItem((chunk) => chunk.toUpperCase());
  // @ts-expect-error: a suggestion has no `done`
  api.todo.suggestions(3).onItem((suggestion) => suggestion.done);
  // @ts-expect-error: todo.ping cannot fail with a value of its own
  api.todo.ping().onError((error) => error.value?.title);
}
