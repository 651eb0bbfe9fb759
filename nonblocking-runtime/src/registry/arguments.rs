//! The arguments of one call by name, read against the function's name and parameters (the
//! decoder needs nothing else of the registry entry). Where the function then runs is
//! `run.rs`.
//!
//! The rule, shared with the HTTP transport: a JSON array is positional, an object is by
//! keyword, `null` means no arguments, and any other value is the single argument. A missing
//! argument is read as `null`, so a trailing `Option` parameter may be left out.

use std::borrow::Cow;
use std::vec;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::depth::{MAX_DEPTH, drop_flat, too_deep};
use super::raw::RawArgs;
use crate::context::Context;
use crate::errors::CallError;

/// The arguments of one call by name, read one parameter at a time by the generated handler.
/// They are `Value`s (a call from Rust) or raw slices of a JSON body (a call over HTTP, which
/// then builds no `Value` tree).
pub struct Arguments<'a> {
    /// The function's name, for errors.
    name: &'static str,
    params: &'static [Param],
    values: Values<'a>,
    next: usize,
    /// The call's context, for `#[context]` parameters and for the run.
    context: Context,
}

/// One parameter of a server function, as written in its signature.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::registry::Param;
/// use nonblocking_runtime::server_function;
///
/// #[server_function]
/// fn tag(items: Vec<String>, label: Option<String>) {}
///
/// assert_eq!(TAG_SERVER_FUNCTION.params(), [
///     Param { name: "items", ty: "Vec<String>" },
///     Param { name: "label", ty: "Option<String>" },
/// ]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// The parameter's name, which is also its keyword in calls by name.
    pub name: &'static str,
    /// The parameter's type, as written (`stringify!` of the source tokens).
    pub ty: &'static str,
}

// The raw variants are built only by the HTTP transport.
#[cfg_attr(not(any(feature = "http", feature = "nats")), allow(dead_code))]
enum Values<'a> {
    Positional(vec::IntoIter<Value>),
    Keyword(Map<String, Value>),
    /// The first parameters positionally, the others by keyword.
    Mixed(vec::IntoIter<Value>, Map<String, Value>),
    RawPositional(vec::IntoIter<&'a RawValue>),
    RawKeyword(Vec<(Cow<'a, str>, &'a RawValue)>),
    RawMixed(vec::IntoIter<&'a RawValue>, Vec<(Cow<'a, str>, &'a RawValue)>),
    /// The one argument's bytes, until read.
    Bytes(Option<&'a [u8]>),
}

/// One argument, as the generated code's `Argument::decode` receives it.
pub enum Arg<'a> {
    /// From a call by name in Rust.
    Value(Value),
    /// A slice of a JSON body, already checked to be well-formed.
    Raw(&'a RawValue),
    /// The bytes of an `application/octet-stream` body.
    Bytes(&'a [u8]),
}

impl<'a> Arguments<'a> {
    /// The function's name.
    pub(super) fn name(&self) -> &'static str {
        self.name
    }

    /// The call's context, which `#[context]` parameters are read from.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Takes the context out, for the run.
    pub(super) fn take_context(&mut self) -> Context {
        std::mem::take(&mut self.context)
    }

    /// Reads `args` by the rule above, rejecting surplus positional arguments and unknown
    /// keywords before anything is decoded.
    pub(crate) fn new(name: &'static str, params: &'static [Param], args: Value, context: Context) -> Result<Self, CallError> {
        if too_deep(&args) {
            drop_flat(args);
            return Err(invalid(
                name,
                None,
                format!("the arguments nest deeper than {MAX_DEPTH} levels"),
            ));
        }
        let values = match args {
            Value::Null => Values::Positional(Vec::new().into_iter()),
            Value::Array(values) => {
                surplus(name, params, values.len())?;
                Values::Positional(values.into_iter())
            }
            Value::Object(mut map) => match map.remove(MIXED) {
                None => {
                    unknown_keyword(name, params, map.keys().map(String::as_str))?;
                    Values::Keyword(map)
                }
                Some(Value::Array(positional)) => {
                    mixed(name, params, positional.len(), map.keys().map(String::as_str))?;
                    Values::Mixed(positional.into_iter(), map)
                }
                Some(_) => return Err(not_an_array(name)),
            },
            single => {
                if params.len() != 1 {
                    return Err(single_mismatch(name, params));
                }
                Values::Positional(vec![single].into_iter())
            }
        };
        Ok(Arguments { name, params, values, next: 0, context })
    }

    /// Reads a split JSON body by the same rule and with the same refusals as [`new`](Self::new).
    #[cfg_attr(not(any(feature = "http", feature = "nats")), allow(dead_code))]
    pub(crate) fn from_raw(
        name: &'static str,
        params: &'static [Param],
        args: RawArgs<'a>,
        context: Context,
    ) -> Result<Self, CallError> {
        let values = match args {
            RawArgs::None => Values::RawPositional(Vec::new().into_iter()),
            RawArgs::Positional(values) => {
                surplus(name, params, values.len())?;
                Values::RawPositional(values.into_iter())
            }
            RawArgs::Keyword(mut members) => match members.iter().position(|(key, _)| key == MIXED) {
                None => {
                    unknown_keyword(name, params, members.iter().map(|(key, _)| key.as_ref()))?;
                    Values::RawKeyword(members)
                }
                Some(at) => {
                    let (_, positional) = members.remove(at);
                    // Checked as JSON when the body was split: only its shape can be wrong.
                    let positional: Vec<&'a RawValue> =
                        serde_json::from_str(positional.get()).map_err(|_| not_an_array(name))?;
                    mixed(name, params, positional.len(), members.iter().map(|(key, _)| key.as_ref()))?;
                    Values::RawMixed(positional.into_iter(), members)
                }
            },
            RawArgs::Single(single) => {
                if params.len() != 1 {
                    return Err(single_mismatch(name, params));
                }
                Values::RawPositional(vec![single].into_iter())
            }
            RawArgs::Bytes(bytes) => Values::Bytes(Some(bytes)),
        };
        Ok(Arguments { name, params, values, next: 0, context })
    }

    /// Decodes the next parameter's argument with `decode` (the parameter type's
    /// `Argument::decode`, named by the generated code so that a type that is not serde-able is
    /// reported once, at the user's type).
    pub fn next<T>(&mut self, decode: fn(Arg<'a>) -> Result<T, serde_json::Error>) -> Result<T, CallError> {
        let param = self.params.get(self.next).ok_or_else(|| {
            invalid(
                self.name,
                None,
                "the handler read more arguments than there are parameters".into(),
            )
        })?;
        self.next += 1;
        let value = match &mut self.values {
            Values::Positional(values) => values.next().map(Arg::Value),
            Values::Keyword(map) => map.remove(param.name).map(Arg::Value),
            Values::RawPositional(values) => values.next().map(Arg::Raw),
            Values::RawKeyword(members) => take_member(members, param.name).map(Arg::Raw),
            Values::Mixed(values, map) => values.next().or_else(|| map.remove(param.name)).map(Arg::Value),
            Values::RawMixed(values, members) => values.next().or_else(|| take_member(members, param.name)).map(Arg::Raw),
            Values::Bytes(bytes) => bytes.take().map(Arg::Bytes),
        };
        match value {
            Some(value) => decode(value)
                .map_err(|error| invalid(self.name, Some(param.name), error.to_string())),
            // Missing: fine for an `Option` (it reads `null` as `None`), an error otherwise.
            None => decode(Arg::Value(Value::Null)).map_err(|_| {
                invalid(
                    self.name,
                    Some(param.name),
                    format!("missing argument of type `{}`", param.ty),
                )
            }),
        }
    }
}

/// The member of a mixed call's object that holds its positional arguments: `{"$args": [item],
/// "flag": true}`. No parameter can be named so (`$` is not in Rust identifiers), so the form
/// cannot be confused with a call by keyword.
pub(crate) const MIXED: &str = "$args";

fn take_member<'a>(members: &mut Vec<(Cow<'a, str>, &'a RawValue)>, name: &str) -> Option<&'a RawValue> {
    let at = members.iter().position(|(key, _)| key == name)?;
    Some(members.swap_remove(at).1)
}

/// A mixed call's keywords: each names a parameter that the positional arguments left open.
fn mixed<'k>(name: &str, params: &[Param], positional: usize, keys: impl Iterator<Item = &'k str> + Clone) -> Result<(), CallError> {
    surplus(name, params, positional)?;
    unknown_keyword(name, params, keys.clone())?;
    let filled = &params[..positional];
    match keys.into_iter().find(|key| filled.iter().any(|param| param.name == *key)) {
        Some(twice) => Err(invalid(name, Some(twice), "given both positionally and by keyword".into())),
        None => Ok(()),
    }
}

fn not_an_array(name: &str) -> CallError {
    invalid(name, None, format!("`{MIXED}` holds the positional arguments of a mixed call: it must be an array"))
}

/// More positional arguments than parameters.
fn surplus(name: &str, params: &[Param], given: usize) -> Result<(), CallError> {
    let params = params.len();
    if given <= params {
        return Ok(());
    }
    Err(invalid(
        name,
        None,
        format!("expected {} at most, got {given} positional arguments", count(params)),
    ))
}

/// A keyword that names no parameter.
fn unknown_keyword<'k>(name: &str, params: &[Param], mut keys: impl Iterator<Item = &'k str>) -> Result<(), CallError> {
    let Some(unknown) = keys.find(|key| !params.iter().any(|p| p.name == *key)) else {
        return Ok(());
    };
    let expected = params.iter().map(|p| p.name).collect::<Vec<_>>().join(", ");
    Err(invalid(
        name,
        Some(unknown),
        format!("unknown keyword argument (the parameters are: {expected})"),
    ))
}

fn single_mismatch(name: &str, params: &[Param]) -> CallError {
    invalid(name, None, format!("a single argument was given, but it takes {}", count(params.len())))
}

fn invalid(name: &str, parameter: Option<&str>, reason: String) -> CallError {
    CallError::invalid_arguments(name, parameter, reason)
}

fn count(params: usize) -> String {
    match params {
        0 => "no arguments".to_owned(),
        1 => "1 argument".to_owned(),
        n => format!("{n} arguments"),
    }
}
