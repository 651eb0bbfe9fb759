// `AsyncCall<T>` is `Sync` only when `T` is: `result()` lends `&T` to whoever holds `&call`.
use std::cell::Cell;

use nonblocking_runtime::call_async;

fn main() {
    let call = call_async(async { Cell::new(1_u8) });
    std::thread::scope(|scope| {
        scope.spawn(|| call.result().map(Cell::get));
    });
}
