//! The caller's context reaches the function: what the authorize hook attached (the signed-in
//! user) is read through `#[context]` parameters, `require = ".."` is checked against the
//! attached identity, and the function can read its deadline. Locally (the context in scope),
//! by name, in process, over HTTP and over NATS (real servers).

mod support;

use std::time::Duration;

use nonblocking_runtime::http::{Remote, Server};
use nonblocking_runtime::nats::{Connect, Worker};
use nonblocking_runtime::registry::ServerFunction;
use nonblocking_runtime::remote::{Caller, InProcess, Refusal, Transport};
use nonblocking_runtime::{CallError, Context, Identity, call_async_by_name, server_function};
use support::nats_server::NatsServer;

#[derive(Clone, Debug)]
struct User {
    name: String,
    admin: bool,
}

impl Identity for User {
    fn has_role(&self, role: &str) -> bool {
        match role {
            "user" => true,
            "admin" => self.admin,
            _ => false,
        }
    }
}

fn user(name: &str) -> User {
    User {
        name: name.to_owned(),
        admin: name == "root",
    }
}

#[server_function(name = "context.whoami")]
async fn whoami(#[context] user: User) -> String {
    user.name
}

/// Sync: runs on the blocking pool, where the context is current too (the nested stub sees it).
#[server_function(name = "context.greet")]
fn greet(greeting: String, #[context] user: User) -> String {
    let again = call_async_whoami()
        .wait()
        .unwrap_or_else(|error| format!("nested call failed: {error}"));
    format!("{greeting}, {} ({again})", user.name)
}

/// Reads no context itself: the functions it calls still run in its caller's.
#[server_function(name = "context.nested")]
async fn nested() -> String {
    call_async_whoami()
        .await
        .unwrap_or_else(|error| format!("nested call failed: {error}"))
}

#[server_function(name = "context.admin_only", require = "admin")]
async fn admin_only(#[context] user: User) -> String {
    format!("{} may", user.name)
}

#[server_function(name = "context.maybe")]
async fn maybe(#[context] user: Option<User>) -> String {
    user.map_or_else(|| "anonymous".to_owned(), |user| user.name)
}

/// The whole context: here, its deadline.
#[server_function(name = "context.time_left")]
async fn time_left(#[context] context: Context) -> Option<u64> {
    context.time_left().map(|left| left.as_millis() as u64)
}

/// The hook every transport uses: `x-user` names the signed-in user.
fn sign_in(caller: &mut Caller<'_>, _: &ServerFunction) -> Result<(), Refusal> {
    if let Some(name) = caller.get("x-user").and_then(|name| name.to_str().ok()) {
        caller.attach_identity(user(name));
    }
    Ok(())
}

/// Every case through one transport: `as_user(name)` is the transport with that login header,
/// `anonymous` one without. The call's deadline is 2 s away.
async fn every_case<T: Transport>(via: &str, as_user: impl Fn(&str) -> T, anonymous: T) {
    let ada = as_user("ada");
    assert_eq!(call_remote_whoami(&ada).await.unwrap(), "ada", "{via}");
    assert_eq!(
        call_remote_greet(&ada, "hi".into()).await.unwrap(),
        "hi, ada (ada)",
        "{via}"
    );
    assert_eq!(call_remote_nested(&ada).await.unwrap(), "ada", "{via}");
    assert_eq!(call_remote_maybe(&ada).await.unwrap(), "ada", "{via}");
    assert_eq!(
        call_remote_maybe(&anonymous).await.unwrap(),
        "anonymous",
        "{via}"
    );

    // The hook attached nothing: refused before the function runs, naming what is missing.
    let missing = call_remote_whoami(&anonymous).await.unwrap_err();
    assert_eq!(
        rejected_code(&missing),
        Some("unauthorized"),
        "{via}: {missing:?}"
    );
    let message = missing.to_string();
    assert!(
        message.contains("`context.whoami` needs a `") && message.contains("User`"),
        "{via}: {message}"
    );
    assert!(message.contains("parameter `user`"), "{via}: {message}");

    // `require` against the attached identity.
    assert_eq!(
        call_remote_admin_only(&as_user("root")).await.unwrap(),
        "root may",
        "{via}"
    );
    let forbidden = call_remote_admin_only(&ada).await.unwrap_err();
    assert_eq!(
        rejected_code(&forbidden),
        Some("forbidden"),
        "{via}: {forbidden:?}"
    );
    assert!(
        forbidden.to_string().contains("requires `admin`"),
        "{via}: {forbidden}"
    );
    let unauthorized = call_remote_admin_only(&anonymous).await.unwrap_err();
    assert_eq!(
        rejected_code(&unauthorized),
        Some("unauthorized"),
        "{via}: {unauthorized:?}"
    );
    assert!(
        unauthorized.to_string().contains("carries no identity"),
        "{via}: {unauthorized}"
    );

    // The deadline is the caller's 2 s (earlier than the server's 30 s), as time left.
    let left = call_remote_time_left(&ada)
        .await
        .unwrap()
        .expect("a served call has a deadline");
    assert!((1_000..=2_000).contains(&left), "{via}: {left} ms left");
}

fn rejected_code(error: &CallError) -> Option<&str> {
    match error {
        CallError::Rejected(rejected) => Some(&rejected.code),
        _ => None,
    }
}

#[tokio::test]
async fn locally_the_context_is_the_one_in_scope() {
    // Outside any scope: the call fails with the error, it does not panic.
    let error = call_async_whoami().await.unwrap_err();
    assert!(
        matches!(&error, CallError::MissingContext(missing) if missing.function == "context.whoami" && missing.parameter == "user"),
        "{error:?}"
    );
    assert_eq!(call_async_maybe().await.unwrap(), "anonymous");

    let ada = Context::new().with(user("ada"));
    let answers = ada
        .scope(async {
            (
                call_async_whoami().await.unwrap(),
                call_async_greet("hello".into()).await.unwrap(),
                call_async_nested().await.unwrap(),
                call_async_by_name::<String>("context.whoami", ())
                    .await
                    .unwrap(),
                // Local calls are the program's own: `require` is a server's check.
                call_async_admin_only().await.unwrap(),
                call_async_time_left().await.unwrap(),
            )
        })
        .await;
    assert_eq!(
        answers,
        (
            "ada".into(),
            "hello, ada (ada)".into(),
            "ada".into(),
            "ada".into(),
            "ada may".into(),
            None
        )
    );

    // A sync caller sets it with `sync_scope`; the deadline a test chooses is the function's.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let left = Context::new()
        .with_deadline(deadline)
        .sync_scope(call_async_time_left)
        .await
        .unwrap()
        .unwrap();
    assert!((50_000..=60_000).contains(&left), "{left}");
}

#[tokio::test]
async fn in_process_with_headers_or_a_chosen_context() {
    // No client timeout in process: the deadline is the transport's own 2 s.
    let app = InProcess::builder()
        .authorize(sign_in)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    every_case(
        "in process",
        |name| app.with_header("x-user", name),
        app.clone(),
    )
    .await;

    // A chosen context, no headers: the hook adds nothing, the function sees it.
    let bob = app.with_context(Context::new().with_identity(user("bob")));
    assert_eq!(call_remote_whoami(&bob).await.unwrap(), "bob");
}

#[tokio::test]
async fn over_http() {
    let url = support::http::serve(
        Server::builder()
            .timeout(Duration::from_secs(30))
            .authorize(sign_in),
    )
    .await;
    let remote = Remote::builder(url)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    every_case(
        "http",
        |name| remote.with_header("x-user", name).unwrap(),
        remote.clone(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_nats() {
    let server = NatsServer::start("");
    let connect = Connect::new([server.url()]);
    let worker = Worker::builder()
        .prefix("context")
        .timeout(Duration::from_secs(30))
        .authorize(sign_in)
        .start(&connect)
        .await
        .unwrap();
    let remote = nonblocking_runtime::nats::Remote::builder()
        .prefix("context")
        .timeout(Duration::from_secs(2))
        .connect(&connect)
        .await
        .unwrap();
    every_case(
        "nats",
        |name| remote.with_header("x-user", name).unwrap(),
        remote.clone(),
    )
    .await;
    worker.stop().await.unwrap();
}
