//! Property tests of calls by name: arbitrary JSON never panics and yields a result or
//! `InvalidArguments`; arbitrary valid arguments give exactly the typed stub's result; arbitrary
//! names give `NotFound` or a result.

use nonblocking_runtime::{CallError, call_async_by_name, registry, server_function};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Point {
    x: i32,
    y: i32,
    label: String,
}

#[server_function]
fn p_none() -> u8 {
    42
}

#[server_function]
fn p_struct(point: Point) -> Point {
    Point {
        x: point.y,
        y: point.x,
        label: point.label.chars().rev().collect(),
    }
}

#[server_function]
fn p_scalars(a: i64, b: bool, c: String, d: f64) -> String {
    format!("{a}|{b}|{c}|{d:?}")
}

#[server_function]
fn p_optional(items: Vec<u16>, limit: Option<u8>) -> Vec<u16> {
    let limit = limit.map_or(items.len(), usize::from);
    items.into_iter().take(limit).collect()
}

#[server_function]
fn p_fallible(n: i32) -> Result<i32, String> {
    if n < 0 {
        Err(format!("{n} is negative"))
    } else {
        Ok(n / 2)
    }
}

#[server_function]
async fn p_async(values: Vec<i64>) -> i64 {
    values.iter().fold(0_i64, |sum, v| sum.wrapping_add(*v))
}

const NAMES: [&str; 6] = [
    "p_none",
    "p_struct",
    "p_scalars",
    "p_optional",
    "p_fallible",
    "p_async",
];

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        // Names of real parameters, so keyword objects sometimes fit.
        prop::sample::select(vec![
            "a", "b", "c", "d", "n", "x", "y", "label", "point", "items", "limit", "values"
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "a", "b", "c", "d", "n", "x", "y", "label", "point", "items", "limit",
                        "values", "zzz"
                    ]),
                    inner
                ),
                0..5
            )
            .prop_map(|pairs| Value::Object(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect::<Map<_, _>>()
            )),
        ]
    })
}

fn point() -> impl Strategy<Value = Point> {
    (any::<i32>(), any::<i32>(), ".{0,8}").prop_map(|(x, y, label)| Point { x, y, label })
}

/// The error text, for comparing failures of the two paths.
fn outcome<T>(result: Result<T, CallError>) -> Result<T, String> {
    result.map_err(|error| error.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_yields_a_result_or_invalid_arguments(name in prop::sample::select(NAMES.to_vec()), args in any_json()) {
        match call_async_by_name::<Value>(name, &args).wait() {
            Ok(_) => {}
            Err(CallError::InvalidArguments(invalid)) => prop_assert_eq!(&invalid.function, name),
            // The fallible function's own error is its result too.
            Err(CallError::Failed(error)) if name == "p_fallible" => prop_assert!(error.to_string().ends_with("is negative")),
            Err(other) => prop_assert!(false, "{name}({args}) gave {other:?}"),
        }
    }

    #[test]
    fn valid_arguments_give_the_typed_result(
        point in point(),
        (a, b, c, d) in (any::<i64>(), any::<bool>(), ".{0,10}", any::<f64>().prop_filter("finite", |f| f.is_finite())),
        items in prop::collection::vec(any::<u16>(), 0..20),
        limit in any::<Option<u8>>(),
        n in any::<i32>(),
        values in prop::collection::vec(any::<i64>(), 0..20),
    ) {
        prop_assert_eq!(outcome(call_async_by_name::<u8>("p_none", ()).wait()), outcome(call_async_p_none().wait()));
        prop_assert_eq!(
            outcome(call_async_by_name::<Point>("p_struct", (&point,)).wait()),
            outcome(call_async_p_struct(point.clone()).wait())
        );
        prop_assert_eq!(
            outcome(call_async_by_name::<String>("p_scalars", (a, b, &c, d)).wait()),
            outcome(call_async_p_scalars(a, b, c.clone(), d).wait())
        );
        prop_assert_eq!(
            outcome(call_async_by_name::<Vec<u16>>("p_optional", (&items, limit)).wait()),
            outcome(call_async_p_optional(items.clone(), limit).wait())
        );
        prop_assert_eq!(
            outcome(call_async_by_name::<i32>("p_fallible", n).wait()),
            outcome(call_async_p_fallible(n).wait())
        );
        prop_assert_eq!(
            outcome(call_async_by_name::<i64>("p_async", (&values,)).wait()),
            outcome(call_async_p_async(values.clone()).wait())
        );
        // By keyword too.
        let keywords = serde_json::json!({"a": a, "b": b, "c": c, "d": d});
        prop_assert_eq!(
            outcome(call_async_by_name::<String>("p_scalars", keywords).wait()),
            outcome(call_async_p_scalars(a, b, c, d).wait())
        );
    }

    #[test]
    fn arbitrary_names_are_not_found_or_answer(name in ".{0,20}") {
        match call_async_by_name::<Value>(&name, ()).wait() {
            Err(CallError::NotFound(missing)) => {
                prop_assert_eq!(&missing.name, &name);
                prop_assert!(registry().get(&name).is_err());
            }
            Ok(_) | Err(CallError::InvalidArguments(_)) => prop_assert!(registry().get(&name).is_ok()),
            Err(other) => prop_assert!(false, "{name:?} gave {other:?}"),
        }
    }
}

#[test]
fn registered_names_answer_without_arguments_or_say_what_is_missing() {
    assert_eq!(call_async_by_name::<u8>("p_none", ()).wait().unwrap(), 42);
    assert!(matches!(
        call_async_by_name::<Value>("p_scalars", ()).wait(),
        Err(CallError::InvalidArguments(ref invalid)) if invalid.parameter.as_deref() == Some("a")
    ));
}
