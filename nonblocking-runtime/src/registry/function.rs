//! [`ServerFunction`], the registry entry of one `#[server_function]`.

use std::fmt;

use super::arguments::{Arguments, Param};
use super::run::Invocation;
use crate::errors::CallError;

/// The registry entry of one server function: its registered name, where it is defined, its
/// signature as written, and the handler that calls it with arguments by name.
///
/// `#[server_function]` builds one as a `const` (named `<FUNCTION>_SERVER_FUNCTION`) and submits
/// it to the registry; [`registry()`](crate::registry()) lists them.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::server_function;
///
/// /// Adds.
/// #[server_function(name = "math.add", require = "user")]
/// pub async fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
///
/// let entry = &ADD_SERVER_FUNCTION;
/// assert_eq!(entry.name(), "math.add");
/// assert!(entry.rust_path().ends_with("::add"));
/// assert!(entry.line() > 0 && !entry.file().is_empty());
/// assert_eq!(entry.params()[1].name, "b");
/// assert_eq!(entry.returns(), "i64");
/// assert!(entry.is_async());
/// assert_eq!(entry.require(), Some("user"));
/// assert_eq!(entry.to_string(), "math.add(a: i64, b: i64) -> i64");
/// ```
pub struct ServerFunction {
    parts: ServerFunctionParts,
}

/// Decodes arguments, starts the function and returns the future of its encoded result.
pub type Handler = fn(Arguments) -> Result<Invocation, CallError>;

/// The fields of a [`ServerFunction`], filled in by the generated code. Not public API.
#[doc(hidden)]
pub struct ServerFunctionParts {
    pub name: &'static str,
    pub rust_path: &'static str,
    pub file: &'static str,
    pub line: u32,
    pub params: &'static [Param],
    pub returns: &'static str,
    pub is_async: bool,
    pub require: Option<&'static str>,
    /// Takes a `#[context] Progress`: a call by name gets its progress.
    pub reports_progress: bool,
    /// Returns `Items<T>`: its call's value is read item by item.
    pub streams: bool,
    /// Which of its parameter and value are raw bytes.
    pub binary: fn() -> Binary,
    pub handler: Handler,
    pub error_value: ErrorValueFn,
    pub doc: &'static str,
    pub signature: SignatureFn,
}

/// Which parts of a call are raw bytes (`Vec<u8>`, `bytes::Bytes`), which a transport sends
/// as `application/octet-stream` instead of JSON. Not public API.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Binary {
    /// Its one parameter is of a bytes type: the body may be the bytes themselves.
    pub takes: bool,
    /// Its value is of a bytes type.
    pub returns: bool,
    /// It streams items of a bytes type (a download in chunks).
    pub chunks: bool,
}

/// The JSON Schemas of a function's types, generated on demand (feature `schema`).
#[cfg(feature = "schema")]
pub type SignatureFn = fn(&mut crate::schema::Generators) -> crate::schema::Signature;

/// Without the feature `schema`, nothing.
#[cfg(not(feature = "schema"))]
pub type SignatureFn = ();

/// Encodes a fallible function's error as JSON when its type is `Serialize`.
pub type ErrorValueFn = fn(&(dyn std::error::Error + 'static)) -> Option<serde_json::Value>;

impl ServerFunction {
    #[doc(hidden)]
    pub const fn from_parts(parts: ServerFunctionParts) -> Self {
        ServerFunction { parts }
    }

    /// The name it is registered and called by (the function's identifier unless
    /// `#[server_function(name = "...")]` said otherwise).
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::server_function;
    /// #[server_function]
    /// fn ping() {}
    /// assert_eq!(PING_SERVER_FUNCTION.name(), "ping");
    /// ```
    pub fn name(&self) -> &'static str {
        self.parts.name
    }

    /// The Rust path of the function, such as `my_app::billing::update`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::server_function;
    /// #[server_function]
    /// fn ping() {}
    /// assert!(PING_SERVER_FUNCTION.rust_path().ends_with("::ping"));
    /// ```
    pub fn rust_path(&self) -> &'static str {
        self.parts.rust_path
    }

    /// The file the function is defined in.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::server_function;
    /// #[server_function]
    /// fn ping() {}
    /// assert!(PING_SERVER_FUNCTION.file().ends_with(".rs"));
    /// ```
    pub fn file(&self) -> &'static str {
        self.parts.file
    }

    /// The line of the attribute in [`file`](Self::file).
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::server_function;
    /// #[server_function]
    /// fn ping() {}
    /// assert!(PING_SERVER_FUNCTION.line() > 0);
    /// ```
    pub fn line(&self) -> u32 {
        self.parts.line
    }

    /// The parameters, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::server_function;
    /// #[server_function]
    /// fn rename(id: u32, name: String) {}
    /// let names: Vec<_> = RENAME_SERVER_FUNCTION.params().iter().map(|p| p.name).collect();
    /// assert_eq!(names, ["id", "name"]);
    /// ```
    pub fn params(&self) -> &'static [Param] {
        self.parts.params
    }

    /// The return type as written (`()` when there is none).
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::server_function;
    /// #[server_function]
    /// fn parse(text: String) -> Result<u8, std::num::ParseIntError> { text.parse() }
    /// assert_eq!(PARSE_SERVER_FUNCTION.returns(), "Result<u8, std::num::ParseIntError>");
    /// ```
    pub fn returns(&self) -> &'static str {
        self.parts.returns
    }

    /// `true` for an `async fn`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::server_function;
    /// #[server_function]
    /// async fn ping() {}
    /// assert!(PING_SERVER_FUNCTION.is_async());
    /// ```
    pub fn is_async(&self) -> bool {
        self.parts.is_async
    }

    /// The `require = "..."` value of the attribute, for authorization hooks.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::server_function;
    /// #[server_function(require = "admin")]
    /// fn wipe() {}
    /// assert_eq!(WIPE_SERVER_FUNCTION.require(), Some("admin"));
    /// ```
    pub fn require(&self) -> Option<&'static str> {
        self.parts.require
    }

    /// Whether the function reports its progress (it takes a `#[context]`
    /// [`Progress`](crate::progress::Progress)), which a caller sees with
    /// [`on_progress`](crate::AsyncCall::on_progress).
    pub fn reports_progress(&self) -> bool {
        self.parts.reports_progress
    }

    /// Whether the function's one parameter is of a bytes type (`Vec<u8>`, `bytes::Bytes`): a
    /// call may then send the bytes themselves as its body (`application/octet-stream`).
    pub fn takes_bytes(&self) -> bool {
        (self.parts.binary)().takes
    }

    /// Whether the function returns a bytes type (`Vec<u8>`, `bytes::Bytes`): its value then
    /// travels as the bytes themselves (`application/octet-stream`), never as JSON.
    pub fn returns_bytes(&self) -> bool {
        (self.parts.binary)().returns
    }

    /// Whether the function streams items of a bytes type (`Items<Vec<u8>>`, `Items<Bytes>`):
    /// a download, whose chunks travel as the bytes themselves (over HTTP, one
    /// `application/octet-stream` body).
    pub fn streams_bytes(&self) -> bool {
        (self.parts.binary)().chunks
    }

    /// Whether the function streams its items (it returns [`Items<T>`](crate::items::Items)),
    /// which a caller reads one by one.
    pub fn streams(&self) -> bool {
        self.parts.streams
    }

    /// The function's doc comment (its `///` lines, without the leading space), or `""`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::server_function;
    /// /// Checks the server is up.
    /// ///
    /// /// Answers `"pong"`.
    /// #[server_function]
    /// fn ping() -> String { "pong".into() }
    /// assert_eq!(PING_SERVER_FUNCTION.doc(), "Checks the server is up.\n\nAnswers `\"pong\"`.");
    /// ```
    pub fn doc(&self) -> &'static str {
        self.parts.doc
    }

    /// Where it is defined, as `path at file:line`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::server_function;
    /// #[server_function]
    /// fn ping() {}
    /// assert!(PING_SERVER_FUNCTION.location().contains("::ping at "));
    /// ```
    pub fn location(&self) -> String {
        format!(
            "{} at {}:{}",
            self.parts.rust_path, self.parts.file, self.parts.line
        )
    }

    /// The JSON Schemas of its parameters, result and error, into `generators`.
    #[cfg(feature = "schema")]
    pub(crate) fn signature(&self, generators: &mut crate::schema::Generators) -> crate::schema::Signature {
        (self.parts.signature)(generators)
    }

    pub(crate) fn handler(&self) -> Handler {
        self.parts.handler
    }

    /// The JSON value of an error this function returned, if its error type is `Serialize`.
    #[cfg_attr(not(any(feature = "http", feature = "nats")), allow(dead_code))]
    pub(crate) fn error_value(&self, error: &(dyn std::error::Error + 'static)) -> Option<serde_json::Value> {
        (self.parts.error_value)(error)
    }

    /// Whether two entries describe the same definition (one function submitted by inventory
    /// and also passed to `register()`).
    pub(crate) fn same_definition(&self, other: &ServerFunction) -> bool {
        self.parts.name == other.parts.name
            && self.parts.rust_path == other.parts.rust_path
            && self.parts.file == other.parts.file
            && self.parts.line == other.parts.line
    }
}

impl fmt::Debug for ServerFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerFunction")
            .field("name", &self.parts.name)
            .field("rust_path", &self.parts.rust_path)
            .field("file", &self.parts.file)
            .field("line", &self.parts.line)
            .field("params", &self.parts.params)
            .field("returns", &self.parts.returns)
            .field("is_async", &self.parts.is_async)
            .field("require", &self.parts.require)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for ServerFunction {
    /// `name(param: Type, ..) -> Returns`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.parts.name)?;
        for (i, param) in self.parts.params.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}: {}", param.name, param.ty)?;
        }
        write!(f, ") -> {}", self.parts.returns)
    }
}

inventory::collect!(ServerFunction);

/// A registry entry for unit tests of code that only passes entries around: its handler and
/// schema are never called.
#[cfg(all(test, feature = "nats"))]
pub(crate) fn test_function(name: &'static str) -> &'static ServerFunction {
    Box::leak(Box::new(ServerFunction::from_parts(ServerFunctionParts {
        name,
        rust_path: name,
        file: file!(),
        line: line!(),
        params: &[],
        returns: "()",
        is_async: true,
        require: None,
        reports_progress: false,
        streams: false,
        binary: Binary::default,
        handler: |_| unreachable!("a test entry is never called"),
        error_value: |_| None,
        doc: "",
        #[cfg(feature = "schema")]
        signature: |_| unreachable!("a test entry has no schema"),
        #[cfg(not(feature = "schema"))]
        signature: (),
    })))
}
