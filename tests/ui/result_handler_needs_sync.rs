// A result handler lends the value to another thread while the handle may lend it too: it
// needs `T: Sync`. One error, at the user's call. (Starting, awaiting, `wait()` and `cancel()`
// need only `T: Send`: see tests/send_values.rs.)
use std::sync::mpsc;

use nonblocking_runtime::call_async;

fn main() {
    let (_tx, rx) = mpsc::channel::<u8>();
    let _call = call_async(async move { rx }).on_result(|rx| drop(rx.try_recv()));
}
