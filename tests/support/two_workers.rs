//! The runtime the concurrency tests share: two workers, like the machine, with a clock.

/// A multi-thread runtime with two workers and time enabled.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}
