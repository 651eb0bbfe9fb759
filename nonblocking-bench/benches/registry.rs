//! The registry with 10,000 functions registered through `register()`: lookup by name against a
//! bare `HashMap<&str, _>` of the same names, and the time to build it.
//!
//! Its own binary: the registry is built once per process, after the registrations.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use nonblocking_runtime::__private::{Arguments, Invocation, ServerFunctionParts};
use nonblocking_runtime::registry::{ServerFunction, register};
use nonblocking_runtime::{CallError, registry};

const FUNCTIONS: usize = 10_000;

fn handler(_: Arguments) -> Result<Invocation, CallError> {
    Err(CallError::Cancelled)
}

/// Registers 10,000 functions and builds the registry; returns their names and the build time.
fn build() -> (Vec<&'static str>, Duration) {
    let names: Vec<&'static str> = (0..FUNCTIONS)
        .map(|i| &*Box::leak(format!("generated.function_{i:05}").into_boxed_str()))
        .collect();
    for &name in &names {
        let function: &'static ServerFunction = Box::leak(Box::new(ServerFunction::from_parts(
            ServerFunctionParts {
                name,
                rust_path: name,
                file: "generated.rs",
                line: 1,
                params: &[],
                returns: "()",
                is_async: false,
                require: None,
                reports_progress: false,
                streams: false,
                binary: Default::default,
                handler,
                error_value: nonblocking_runtime::__private::no_error_value,
                doc: "",
                signature: nonblocking_runtime::__private::signature! { params: [], returns: (), error: [], progress: [] },
            },
        )));
        register(function).expect("registered before the registry is built");
    }
    let start = Instant::now();
    let built = registry();
    let took = start.elapsed();
    assert!(built.len() >= FUNCTIONS);
    (names, took)
}

fn lookup(c: &mut Criterion) {
    let (names, build_time) = build();
    println!("registry build with {FUNCTIONS} functions: {build_time:?}");
    // Recorded for the report (criterion measures only the lookups).
    let report = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-report");
    let _ = std::fs::create_dir_all(&report);
    let _ = std::fs::write(
        report.join("registry_build_ns.txt"),
        build_time.as_nanos().to_string(),
    );

    let baseline: HashMap<&str, &str> = names.iter().map(|&name| (name, name)).collect();
    let mut group = c.benchmark_group("registry_lookup");
    group.bench_function("hashmap", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 7919) % FUNCTIONS;
            black_box(baseline.get(black_box(names[i])))
        })
    });
    group.bench_function("nonblocking", |b| {
        let registry = registry();
        let mut i = 0;
        b.iter(|| {
            i = (i + 7919) % FUNCTIONS;
            black_box(registry.get(black_box(names[i])).ok())
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = lookup
}
criterion_main!(benches);
