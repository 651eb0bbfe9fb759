//! Anvil's debounced save: every change cancels the pending save and schedules a new one, so a
//! burst of changes ends in one save of the whole batch.
//!
//! Run it with `cargo run --example debounced_save`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use nonblocking_runtime::{DeferRef, cancel, defer};

/// Changes waiting to be saved, shared with the deferred save.
type Pending = Arc<Mutex<Vec<String>>>;

struct Editor {
    pending: Pending,
    deferred_save: Option<DeferRef>,
}

impl Editor {
    fn on_change(&mut self, change: &str) {
        self.pending.lock().unwrap().push(change.to_owned());
        // We could use `deferred_save.cancel()`, but it starts as `None`.
        cancel(&self.deferred_save);
        let pending = Arc::clone(&self.pending);
        self.deferred_save = Some(defer(move || do_save(&pending), Duration::from_millis(50)));
    }
}

fn do_save(pending: &Pending) {
    let saves = std::mem::take(&mut *pending.lock().unwrap());
    if saves.is_empty() {
        return;
    }
    println!("saving {} changes at once: {saves:?}", saves.len());
}

fn main() {
    let mut editor = Editor {
        pending: Pending::default(),
        deferred_save: None,
    };
    for word in ["the", "quick", "brown", "fox", "jumps"] {
        println!("change: {word}");
        editor.on_change(word);
        std::thread::sleep(Duration::from_millis(5));
    }

    std::thread::sleep(Duration::from_millis(150));

    // `DeferRef::reset` does the same without a new timer: move the pending save.
    println!("five more changes, debounced with reset():");
    for word in ["over", "the", "lazy", "dog", "!"] {
        editor.pending.lock().unwrap().push(word.to_owned());
        let moved = editor
            .deferred_save
            .as_ref()
            .is_some_and(|save| save.reset(Duration::from_millis(50)));
        if !moved {
            let pending = Arc::clone(&editor.pending);
            editor.deferred_save =
                Some(defer(move || do_save(&pending), Duration::from_millis(50)));
        }
    }

    std::thread::sleep(Duration::from_millis(200));
}
