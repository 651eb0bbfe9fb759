//! What `#[server_function]` records with the feature `schema`: a function that writes the
//! JSON Schemas of its parameters, result and error into two generators. A type without
//! `JsonSchema` gets the open schema `{}` instead of a compile error (autoref specialization:
//! the macro cannot see which traits a type implements).

use schemars::{JsonSchema, Schema, SchemaGenerator, generate::Contract};

/// The two generators one description is built with: parameters are described as the server
/// *deserializes* them, results and errors as it *serializes* them (a `#[serde(default)]`
/// field may be left out of an argument, a `skip_serializing_if` field may be missing from a
/// result).
#[derive(Debug)]
pub struct Generators {
    input: SchemaGenerator,
    output: SchemaGenerator,
}

/// Where referenced definitions live: where OpenAPI 3.1 keeps them, so the schemas are usable
/// in the document as they are.
pub(crate) const DEFINITIONS: &str = "/components/schemas";

impl Generators {
    pub(crate) fn new() -> Self {
        let settings = |contract| {
            schemars::generate::SchemaSettings::draft2020_12().with(|settings| {
                settings.definitions_path = DEFINITIONS.into();
                settings.meta_schema = None;
                settings.contract = contract;
            })
        };
        Generators {
            input: settings(Contract::Deserialize).into_generator(),
            output: settings(Contract::Serialize).into_generator(),
        }
    }

    /// For parameters.
    pub fn input(&mut self) -> &mut SchemaGenerator {
        &mut self.input
    }

    /// For results and errors.
    pub fn output(&mut self) -> &mut SchemaGenerator {
        &mut self.output
    }

    /// The definitions both generators collected: (parameters', results').
    pub(crate) fn take_definitions(&mut self) -> (serde_json::Map<String, serde_json::Value>, serde_json::Map<String, serde_json::Value>) {
        (self.input.take_definitions(true), self.output.take_definitions(true))
    }
}

/// The schemas of one function's types.
#[derive(Debug)]
pub struct Signature {
    /// One per parameter, in order.
    pub params: Vec<Schema>,
    /// The call's value (`()` is `null`).
    pub returns: Schema,
    /// The error's value, for a fallible function whose error type is `Serialize`.
    pub error: Option<Schema>,
    /// What it reports as progress, for a function that takes a `#[context] Progress<P>`.
    pub progress: Option<Schema>,
}

/// Selects a type's schema at compile time; see the module docs.
pub struct SchemaOf<T: ?Sized>(core::marker::PhantomData<fn() -> Box<T>>);

impl<T: ?Sized> SchemaOf<T> {
    /// The one value.
    pub const NEW: Self = SchemaOf(core::marker::PhantomData);
}

/// Chosen for a `JsonSchema` type: its schema.
pub trait HasSchema {
    /// The type's schema (a `$ref` for a named type).
    fn schema(&self, generator: &mut SchemaGenerator) -> Schema;
}

impl<T: JsonSchema + ?Sized> HasSchema for &SchemaOf<T> {
    fn schema(&self, generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<T>()
    }
}

/// Chosen otherwise: the open schema, which any value matches.
pub trait OpenSchema {
    /// `{}`.
    fn schema(&self, generator: &mut SchemaGenerator) -> Schema;
}

impl<T: ?Sized> OpenSchema for SchemaOf<T> {
    fn schema(&self, _: &mut SchemaGenerator) -> Schema {
        Schema::default()
    }
}

/// A `Result` whose value type is `JsonSchema`: the value's schema.
pub trait OkHasSchema {
    /// The `Ok` type's schema.
    fn ok_schema(&self, generator: &mut SchemaGenerator) -> Schema;
}

impl<T: JsonSchema, E> OkHasSchema for &SchemaOf<Result<T, E>> {
    fn ok_schema(&self, generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<T>()
    }
}

/// Otherwise (or not a `Result` at all): the open schema.
pub trait OkOpenSchema {
    /// `{}`.
    fn ok_schema(&self, generator: &mut SchemaGenerator) -> Schema;
}

impl<R: ?Sized> OkOpenSchema for SchemaOf<R> {
    fn ok_schema(&self, _: &mut SchemaGenerator) -> Schema {
        Schema::default()
    }
}

/// A `Result` whose error type is `Serialize` and `JsonSchema`: the error's schema.
pub trait ErrorHasSchema {
    /// The error value's schema, if the value crosses the wire.
    fn error_schema(&self, generator: &mut SchemaGenerator) -> Option<Schema>;
}

// On the whole `Result`, not on `<R as Fallible>::Error`: a `fallible` function that returns no
// `Result` is already one error at its return type, and this must not add another.
impl<T, E: JsonSchema + serde::Serialize> ErrorHasSchema for &&SchemaOf<Result<T, E>> {
    fn error_schema(&self, generator: &mut SchemaGenerator) -> Option<Schema> {
        Some(generator.subschema_for::<E>())
    }
}

/// `Serialize` only: the value crosses the wire, its shape is unknown.
pub trait ErrorOpenSchema {
    /// `Some({})`.
    fn error_schema(&self, generator: &mut SchemaGenerator) -> Option<Schema>;
}

impl<T, E: serde::Serialize> ErrorOpenSchema for &SchemaOf<Result<T, E>> {
    fn error_schema(&self, _: &mut SchemaGenerator) -> Option<Schema> {
        Some(Schema::default())
    }
}

/// Neither: no value crosses the wire.
pub trait NoErrorSchema {
    /// `None`.
    fn error_schema(&self, generator: &mut SchemaGenerator) -> Option<Schema>;
}

impl<R: ?Sized> NoErrorSchema for SchemaOf<R> {
    fn error_schema(&self, _: &mut SchemaGenerator) -> Option<Schema> {
        None
    }
}
