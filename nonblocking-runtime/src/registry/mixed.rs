//! [`Mixed`]: positional and keyword arguments in one call by name.

use serde::ser::{Error as _, SerializeMap};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::arguments::MIXED;

/// The arguments of a call by name given partly in order and partly by keyword, as Anvil's
/// `call_async("update", item, flag=True)`: the positional ones fill the first parameters, the
/// keywords any of the others. A parameter given both ways, or a keyword that names no
/// parameter, is [`CallError::InvalidArguments`](crate::CallError::InvalidArguments) naming it;
/// a missing one is too, unless its type is an `Option`.
///
/// On the wire (every transport, and the JavaScript client's `kw`) it is an object whose
/// `"$args"` member holds the positional arguments: `{"$args": [item], "flag": true}`. No
/// parameter can be named `$args`, so the form cannot be taken for a call by keyword.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::registry::Mixed;
/// use nonblocking_runtime::{call_async_by_name, server_function};
///
/// #[server_function(name = "mixed.update")]
/// fn update(id: u32, title: String, notify: bool) -> String {
///     format!("{id}: {title} ({notify})")
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let args = Mixed::new().arg(7).arg("milk").kw("notify", true);
/// let text: String = call_async_by_name("mixed.update", args).await.unwrap();
/// assert_eq!(text, "7: milk (true)");
///
/// let twice = Mixed::new().arg(7).kw("id", 8);
/// let error = call_async_by_name::<String>("mixed.update", twice).await.unwrap_err();
/// assert!(error.to_string().contains("parameter `id`: given both positionally and by keyword"));
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mixed {
    positional: Vec<Value>,
    keywords: Map<String, Value>,
    /// The first argument that could not be encoded: the call fails with it.
    unencodable: Option<String>,
}

impl Mixed {
    /// No arguments yet.
    pub fn new() -> Self {
        Mixed::default()
    }

    /// The next positional argument.
    pub fn arg(mut self, value: impl Serialize) -> Self {
        match serde_json::to_value(value) {
            Ok(value) => self.positional.push(value),
            Err(error) => self.failed(format!("positional argument {}: {error}", self.positional.len() + 1)),
        }
        self
    }

    /// The argument of the parameter `name` (replacing an earlier one of that name).
    pub fn kw(mut self, name: impl Into<String>, value: impl Serialize) -> Self {
        let name = name.into();
        match serde_json::to_value(value) {
            Ok(value) => {
                self.keywords.insert(name, value);
            }
            Err(error) => self.failed(format!("keyword argument `{name}`: {error}")),
        }
        self
    }

    fn failed(&mut self, reason: String) {
        self.unencodable.get_or_insert(reason);
    }
}

impl Serialize for Mixed {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Some(reason) = &self.unencodable {
            return Err(S::Error::custom(reason));
        }
        let mut map = serializer.serialize_map(Some(1 + self.keywords.len()))?;
        map.serialize_entry(MIXED, &self.positional)?;
        for (name, value) in &self.keywords {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}
