//! [`Connect`]: where the NATS servers are and how to log in, shared by workers and callers.

use std::fmt;
use std::sync::Arc;

use async_nats::{ConnectOptions, ServerAddr};

use crate::errors::{CallError, TransportError};

/// How to reach NATS: the servers' addresses (every node of a cluster, so a client can fail
/// over) and the connect options (credentials, TLS), built afresh for each connection a worker
/// or a caller opens.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::nats::{Connect, async_nats::ConnectOptions};
///
/// let connect = Connect::new(["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"])
///     .options(|| ConnectOptions::new().user_and_password("worker".into(), "secret".into()).require_tls(true));
/// assert_eq!(connect.servers().len(), 2);
/// ```
#[derive(Clone)]
pub struct Connect {
    servers: Vec<String>,
    options: Arc<dyn Fn() -> ConnectOptions + Send + Sync>,
}

impl fmt::Debug for Connect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connect").field("servers", &self.servers).finish_non_exhaustive()
    }
}

impl Connect {
    /// The servers at these addresses (`nats://host:port`, or `host:port`), with async-nats'
    /// default options.
    pub fn new<I>(servers: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Connect { servers: servers.into_iter().map(Into::into).collect(), options: Arc::new(ConnectOptions::new) }
    }

    /// The options each connection is opened with: credentials (`with_credentials`, `nkey`,
    /// `token`, `user_and_password`), TLS (`require_tls`, `add_root_certificates`,
    /// `add_client_certificate`), reconnection. Called once per connection.
    pub fn options(mut self, options: impl Fn() -> ConnectOptions + Send + Sync + 'static) -> Self {
        self.options = Arc::new(options);
        self
    }

    /// The addresses, as given.
    pub fn servers(&self) -> &[String] {
        &self.servers
    }

    /// Opens one connection, named `name` on the servers (their monitoring shows it).
    pub(crate) async fn open(&self, name: &str) -> Result<async_nats::Client, CallError> {
        let where_ = self.servers.join(", ");
        let addresses = self
            .servers
            .iter()
            .map(|server| server.parse::<ServerAddr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| TransportError::plain(where_.clone(), format!("invalid NATS server address: {error}")))?;
        if addresses.is_empty() {
            return Err(TransportError::plain(where_, "no NATS server address given".into()));
        }
        (self.options)()
            .name(name)
            .connect(addresses)
            .await
            .map_err(|error| TransportError::caused(where_, "could not connect to NATS", Box::new(error)))
    }
}
