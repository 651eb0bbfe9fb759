//! Raw bytes: a parameter or a return value of a bytes type (`Vec<u8>`, `bytes::Bytes`) that
//! is a call's whole body travels as `application/octet-stream`, never as a JSON array of
//! numbers. Which types are bytes is known from the type itself (its `TypeId`), so the same
//! generated code serves every type and `Vec<u8>` needs no marker.

use std::any::{Any, TypeId};

use serde::de::value::SeqDeserializer;
use serde::de::{Deserializer, Visitor};

/// Whether `T` is a bytes type: `Vec<u8>`, or `bytes::Bytes` (with a transport feature).
pub fn is_bytes<T: 'static>() -> bool {
    let id = TypeId::of::<T>();
    if id == TypeId::of::<Vec<u8>>() {
        return true;
    }
    #[cfg(any(feature = "http", feature = "nats"))]
    if id == TypeId::of::<bytes::Bytes>() {
        return true;
    }
    false
}

/// Whether `V` is a stream of bytes: `Items<Vec<u8>>`, or `Items<bytes::Bytes>` (with a
/// transport feature), a download in chunks.
pub fn is_bytes_stream<V: 'static>() -> bool {
    let id = TypeId::of::<V>();
    if id == TypeId::of::<crate::items::Items<Vec<u8>>>() {
        return true;
    }
    #[cfg(any(feature = "http", feature = "nats"))]
    if id == TypeId::of::<crate::items::Items<bytes::Bytes>>() {
        return true;
    }
    false
}

/// The bytes of `value` if it is of a bytes type, else `value` back.
pub(crate) fn into_bytes<T: 'static>(value: T) -> Result<Vec<u8>, T> {
    let mut slot = Some(value);
    let any = &mut slot as &mut dyn Any;
    if let Some(vec) = any.downcast_mut::<Option<Vec<u8>>>() {
        return Ok(vec.take().unwrap_or_default());
    }
    #[cfg(any(feature = "http", feature = "nats"))]
    if let Some(bytes) = any.downcast_mut::<Option<bytes::Bytes>>() {
        return Ok(bytes.take().map(Vec::from).unwrap_or_default());
    }
    Err(slot.expect("not taken"))
}

/// A copy of `value`'s bytes if it is of a bytes type.
#[cfg_attr(not(any(feature = "http", feature = "nats")), allow(dead_code))]
pub(crate) fn bytes_of<T: 'static>(value: &T) -> Option<Vec<u8>> {
    let any = value as &dyn Any;
    if let Some(vec) = any.downcast_ref::<Vec<u8>>() {
        return Some(vec.clone());
    }
    #[cfg(any(feature = "http", feature = "nats"))]
    if let Some(bytes) = any.downcast_ref::<bytes::Bytes>() {
        return Some(bytes.to_vec());
    }
    None
}

/// `T` made from `bytes`: at once for a bytes type, else through serde (a `Vec<u8>`-like type
/// reads a sequence of numbers, a byte buffer type the buffer).
pub(crate) fn from_bytes<T: serde::de::DeserializeOwned + 'static>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    if TypeId::of::<T>() == TypeId::of::<Vec<u8>>() {
        let boxed: Box<dyn Any> = Box::new(bytes.to_vec());
        return Ok(*boxed.downcast::<T>().expect("the same type"));
    }
    #[cfg(any(feature = "http", feature = "nats"))]
    if TypeId::of::<T>() == TypeId::of::<bytes::Bytes>() {
        let boxed: Box<dyn Any> = Box::new(bytes::Bytes::copy_from_slice(bytes));
        return Ok(*boxed.downcast::<T>().expect("the same type"));
    }
    T::deserialize(Raw(bytes))
}

/// Bytes as serde sees them: a sequence of numbers to any type that asks for anything else
/// than a byte buffer (so `serde_json::Value` reads them as the array JSON would hold).
struct Raw<'a>(&'a [u8]);

impl<'de> Deserializer<'de> for Raw<'_> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        SeqDeserializer::<_, serde_json::Error>::new(self.0.iter().copied()).deserialize_any(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_bytes(self.0)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_byte_buf(self.0.to_vec())
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string option unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_types_are_known_by_their_type() {
        assert!(is_bytes::<Vec<u8>>());
        assert!(!is_bytes::<Vec<u16>>());
        assert!(!is_bytes::<String>());
        assert_eq!(into_bytes(vec![1u8, 2]), Ok(vec![1, 2]));
        assert_eq!(into_bytes(7u32), Err(7));
        assert_eq!(bytes_of(&vec![3u8]), Some(vec![3]));
        assert_eq!(bytes_of(&"text"), None);
    }

    #[test]
    fn bytes_read_as_other_types_through_serde() {
        assert_eq!(from_bytes::<Vec<u8>>(&[1, 2, 255]).unwrap(), [1, 2, 255]);
        assert_eq!(from_bytes::<serde_json::Value>(&[1, 2]).unwrap(), serde_json::json!([1, 2]));
        assert_eq!(from_bytes::<[u8; 2]>(&[4, 5]).unwrap(), [4, 5]);
        assert!(from_bytes::<String>(&[1]).is_err());
    }
}
