//! Fuzzes the argument decoder of generated handlers: any bytes that parse as JSON are passed
//! to calls by name of functions with several signatures. A call must end in the function's
//! result or a by-name error, never a panic (a panic in the decoder would surface here as a
//! crash, because it happens in the caller, before the call's task starts).
//!
//! Run with `cargo fuzz run decode_arguments` from this folder (see the README).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nonblocking_runtime::{CallError, call_async_by_name, server_function};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Serialize, Deserialize)]
struct Point {
    x: i32,
    y: i32,
    tags: Vec<String>,
}

#[server_function(inline)]
fn fuzz_none() -> u8 {
    1
}

#[server_function(inline)]
fn fuzz_scalars(a: i64, b: bool, c: String, d: f64, e: Option<u8>) -> String {
    format!("{a}{b}{c}{d}{e:?}")
}

#[server_function(inline)]
fn fuzz_struct(point: Point, scale: Option<i32>) -> i64 {
    (i64::from(point.x) + i64::from(point.y)) * i64::from(scale.unwrap_or(1)) + point.tags.len() as i64
}

#[server_function(inline)]
fn fuzz_nested(values: Vec<Vec<Option<u16>>>, names: std::collections::BTreeMap<String, u8>) -> usize {
    values.len() + names.len()
}

fuzz_target!(|data: &[u8]| {
    let Ok(args) = serde_json::from_slice::<Value>(data) else { return };
    for name in ["fuzz_none", "fuzz_scalars", "fuzz_struct", "fuzz_nested"] {
        match call_async_by_name::<Value>(name, &args).wait() {
            Ok(_) | Err(CallError::InvalidArguments(_)) => {}
            Err(other) => panic!("{name}({args}) ended in {other:?}"),
        }
    }
});
