//! The library never replaces the application's panic hook. Probing a runtime for tokio's
//! time driver (tokio has no API to ask) catches tokio's panic; the application's own hook
//! stays installed, sees that panic once per runtime, and sees every other panic as before.
//! Its own test binary: a panic hook is global to the process.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nonblocking_runtime::call_async;

#[test]
fn probing_for_the_time_driver_leaves_the_applications_hook_in_place() {
    let seen = Arc::new(AtomicUsize::new(0));
    let counting = Arc::clone(&seen);
    let hook: Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Send + Sync> = Box::new(move |_| {
        counting.fetch_add(1, Ordering::SeqCst);
    });
    let installed = &*hook as *const _ as *const ();
    std::panic::set_hook(hook);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for _ in 0..3 {
        let error = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    runtime.block_on(async {
                        call_async(std::future::pending::<()>())
                            .timeout(Duration::from_millis(10))
                            .await
                            .unwrap_err()
                    })
                })
                .join()
                .unwrap()
        });
        assert!(error.to_string().contains("enable_time"), "{error}");
    }
    // tokio's panic reached the application's hook, once for this runtime, from any thread.
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    // And the hook in place is still the application's own, not a wrapper around it.
    let current = std::panic::take_hook();
    assert_eq!(
        &*current as *const _ as *const (), installed,
        "the panic hook was replaced"
    );
    std::panic::set_hook(current);
    let _ = std::panic::catch_unwind(|| panic!("the application's own panic"));
    assert_eq!(seen.load(Ordering::SeqCst), 2);
}
