//! The Rust client, `Remote`: headers that reach the server's authorize hook (default, bearer
//! and per call), `https://` with a certificate made here, and errors that name the URL, keep
//! their causes and say what to check.

use std::error::Error;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use nonblocking_runtime::context::Roles;
use nonblocking_runtime::http::{Refusal, Remote, Server};
use nonblocking_runtime::{CallError, server_function};

#[server_function(name = "client.echo")]
async fn echo(text: String) -> String {
    text
}

#[server_function(name = "client.secret", require = "admin")]
fn secret() -> String {
    "42".to_owned()
}

/// What the authorize hook saw, per call: the `authorization`, `x-request-id` and
/// `x-client` headers.
type Seen = Arc<Mutex<Vec<[Option<String>; 3]>>>;

fn server(seen: &Seen) -> Server {
    let seen = Arc::clone(seen);
    Server::builder()
        .prefix("/rpc")
        .authorize(move |headers, function| {
            // The transport-neutral view: HTTP, from a loopback client (the https test serves the
            // router through its own TLS acceptor, which records no peer).
            assert_eq!(headers.via(), nonblocking_runtime::remote::Via::Http);
            assert!(
                headers.peer().is_none_or(|peer| peer.ip().is_loopback()),
                "{headers:?}"
            );
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned)
            };
            let authorization = header("authorization");
            seen.lock().unwrap().push([
                authorization.clone(),
                header("x-request-id"),
                header("x-client"),
            ]);
            match (function.require(), authorization.as_deref()) {
                (None, _) => Ok(()),
                (Some(role), Some("Bearer admin-token")) => {
                    headers.attach_identity(Roles::new([role]));
                    Ok(())
                }
                (Some(_), Some(_)) => Err(Refusal::Forbidden("wrong token".into())),
                (Some(_), None) => Err(Refusal::Unauthorized("log in first".into())),
            }
        })
        .build()
        .unwrap()
}

async fn serve_plain(server: Server) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server.serve(listener, std::future::pending()));
    addr
}

fn chain(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(" | ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}

#[tokio::test]
async fn default_bearer_and_per_call_headers_reach_the_authorize_hook() {
    let seen = Seen::default();
    let addr = serve_plain(server(&seen)).await;
    let base = format!("http://{addr}/rpc");

    // Without credentials the hook refuses, as before.
    let anonymous = Remote::new(&base).unwrap();
    let error = call_remote_secret(&anonymous).await.unwrap_err();
    assert!(
        matches!(&error, CallError::Rejected(rejected) if rejected.status == 401),
        "{error:?}"
    );

    let admin = Remote::builder(&base)
        .bearer_token("admin-token")
        .header("x-client", "tests")
        .build()
        .unwrap();
    assert_eq!(call_remote_secret(&admin).await.unwrap(), "42");

    // A header for one call only, on a variant that shares the connections.
    let traced = admin.with_header("x-request-id", "7").unwrap();
    assert_eq!(call_remote_echo(&traced, "hi".into()).await.unwrap(), "hi");
    assert_eq!(call_remote_echo(&admin, "hi".into()).await.unwrap(), "hi");

    // Another user's token for one call replaces the default one.
    let guest = admin.with_bearer_token("guest-token").unwrap();
    let error = call_remote_secret(&guest).await.unwrap_err();
    assert!(
        matches!(&error, CallError::Rejected(rejected) if rejected.status == 403),
        "{error:?}"
    );

    let admin_token = Some("Bearer admin-token".to_owned());
    let client = Some("tests".to_owned());
    assert_eq!(
        *seen.lock().unwrap(),
        [
            [None, None, None],
            [admin_token.clone(), None, client.clone()],
            [admin_token.clone(), Some("7".into()), client.clone()],
            [admin_token, None, client.clone()],
            [Some("Bearer guest-token".into()), None, client],
        ]
    );
}

#[tokio::test]
async fn an_interceptor_sets_headers_on_every_call_from_state_it_reads_then() {
    let seen = Seen::default();
    let addr = serve_plain(server(&seen)).await;
    let token = Arc::new(Mutex::new(String::from("stale")));
    let names = Arc::new(Mutex::new(Vec::new()));
    let remote = {
        let (token, names) = (Arc::clone(&token), Arc::clone(&names));
        Remote::builder(format!("http://{addr}/rpc"))
            .header("x-client", "builder")
            .intercept(move |function, headers| {
                names.lock().unwrap().push(function.to_owned());
                // The remote's own headers are in; the interceptor may read and replace them.
                assert_eq!(headers.get("x-client"), Some("builder"));
                headers.insert("x-client", "intercepted").unwrap();
                let bearer = format!("Bearer {}", token.lock().unwrap());
                headers.insert("authorization", &bearer).unwrap();
                assert!(headers.insert("bad name", "x").is_err());
                assert!(headers.insert("x-bad", "two\nlines").is_err());
            })
            .build()
            .unwrap()
    };
    let refused = call_remote_secret(&remote).await.unwrap_err();
    assert!(
        matches!(&refused, CallError::Rejected(rejected) if rejected.code == "forbidden"),
        "{refused:?}"
    );
    // Refreshed elsewhere: the next call carries the new token.
    *token.lock().unwrap() = "admin-token".into();
    assert_eq!(call_remote_secret(&remote).await.unwrap(), "42");
    // A per-call variant keeps the interceptor.
    let traced = remote.with_header("x-request-id", "7").unwrap();
    assert_eq!(call_remote_echo(&traced, "hi".into()).await.unwrap(), "hi");
    let seen = seen.lock().unwrap().clone();
    let last = seen.last().unwrap();
    assert_eq!(last[0].as_deref(), Some("Bearer admin-token"));
    assert_eq!(last[1].as_deref(), Some("7"));
    assert_eq!(last[2].as_deref(), Some("intercepted"));
    assert_eq!(
        *names.lock().unwrap(),
        ["client.secret", "client.secret", "client.echo"]
    );
}

#[tokio::test]
async fn a_refused_connection_names_the_url_and_keeps_its_cause() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let remote = Remote::new(format!("http://{addr}/rpc")).unwrap();
    let error = call_remote_echo(&remote, "x".into()).await.unwrap_err();
    let CallError::Transport(transport) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(transport.url, format!("http://{addr}/rpc/client.echo"));
    let text = error.to_string();
    assert!(text.contains(&transport.url), "{text}");
    assert!(text.to_lowercase().contains("connection refused"), "{text}");
    // The HTTP stack's own error is the source, with its causes behind it.
    assert!(error.source().is_some(), "{}", chain(&error));
    assert!(
        chain(&error).matches(" | ").count() >= 2,
        "{}",
        chain(&error)
    );
}

#[tokio::test]
async fn a_wrong_prefix_says_to_check_the_prefix() {
    let addr = serve_plain(server(&Seen::default())).await;
    // The server serves under /rpc; this client forgot it.
    let remote = Remote::new(format!("http://{addr}")).unwrap();
    let error = call_remote_echo(&remote, "x".into()).await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains(&format!(
            "no nonblocking server at http://{addr}: check the prefix"
        )),
        "{text}"
    );
    assert!(matches!(error, CallError::Transport(_)), "{error:?}");
}

#[tokio::test]
async fn a_remote_name_that_is_not_found_points_at_the_servers_listing() {
    let addr = serve_plain(server(&Seen::default())).await;
    let base = format!("http://{addr}/rpc");
    let remote = Remote::new(&base).unwrap();
    let error = remote
        .call_async_by_name::<String>("client.ecko", ("x",))
        .await
        .unwrap_err();
    let CallError::NotFound(missing) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(missing.server.as_deref(), Some(base.as_str()));
    assert_eq!(missing.suggestion.as_deref(), Some("client.echo"));
    let text = error.to_string();
    assert!(
        text.contains(&format!("`GET {base}` lists what you may call")),
        "{text}"
    );
    assert!(
        !text.contains("registry()"),
        "the client's own registry is not where to look: {text}"
    );
    // The message stays true when the listing is off or filtered: it says so.
    assert!(
        text.contains("if the server publishes its listing"),
        "{text}"
    );
}

#[tokio::test]
async fn urls_and_headers_that_cannot_work_are_refused_up_front() {
    for (url, says) in [
        ("ftp://example/rpc", "http://host"),
        ("not a url", "invalid base URL"),
    ] {
        let error = Remote::new(url).unwrap_err();
        assert!(error.to_string().contains(says), "{url}: {error}");
    }
    let remote = Remote::new("http://127.0.0.1:1/rpc").unwrap();
    let error = remote.with_header("x-ok", "line\nbreak").unwrap_err();
    assert!(error.to_string().contains("x-ok"), "{error}");
    let error = remote.with_header("bad header", "v").unwrap_err();
    assert!(error.to_string().contains("bad header"), "{error}");
}

#[cfg(feature = "https")]
mod https {
    use std::sync::Arc;

    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::service::TowerToHyperService;
    use rcgen::CertifiedKey;
    use tokio_rustls::TlsAcceptor;
    use tokio_rustls::rustls::ServerConfig;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    use super::*;

    /// Serves `server` over TLS with a self-signed certificate for `localhost`; returns the
    /// address and the certificate as PEM.
    async fn serve_tls(server: Server) -> (SocketAddr, String) {
        let CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(signing_key.serialize_der()));
        let chain = vec![CertificateDer::from(cert.der().to_vec())];
        let config = ServerConfig::builder_with_provider(Arc::new(
            tokio_rustls::rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = server.router();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (acceptor, router) = (acceptor.clone(), router.clone());
                tokio::spawn(async move {
                    // A client that does not trust us ends the handshake: nothing to serve.
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = TowerToHyperService::new(router);
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        (addr, cert.pem())
    }

    #[tokio::test]
    async fn https_with_a_trusted_certificate_works_and_an_untrusted_one_is_refused() {
        let (addr, pem) = serve_tls(server(&Seen::default())).await;
        let base = format!("https://localhost:{}/rpc", addr.port());

        let trusting = Remote::builder(&base)
            .add_root_certificate_pem(pem)
            .build()
            .unwrap();
        assert_eq!(
            call_remote_echo(&trusting, "over tls".into())
                .await
                .unwrap(),
            "over tls"
        );

        // Only the built-in web roots: the self-signed certificate is refused, and the error
        // says why.
        let wary = Remote::new(&base).unwrap();
        let error = call_remote_echo(&wary, "x".into()).await.unwrap_err();
        assert!(matches!(error, CallError::Transport(_)), "{error:?}");
        let text = chain(&error).to_lowercase();
        assert!(text.contains("certificate"), "{text}");
        assert!(text.contains(&base.to_lowercase()), "{text}");

        let error = Remote::builder(&base)
            .add_root_certificate_pem("not a certificate")
            .build()
            .unwrap_err();
        assert!(error.to_string().contains("certificate"), "{error}");
    }
}

#[tokio::test]
async fn an_authorize_hook_that_panics_refuses_the_call_and_the_server_goes_on() {
    let server = Server::builder()
        .prefix("/rpc")
        .authorize(|_, function| {
            if function.require().is_some() {
                panic!("a bug in the hook");
            }
            Ok(())
        })
        .build()
        .unwrap();
    let addr = serve_plain(server).await;
    let remote = Remote::new(format!("http://{addr}/rpc")).unwrap();
    let error = call_remote_secret(&remote).await.unwrap_err();
    assert!(
        matches!(&error, CallError::Panicked(message) if message.contains("authorize hook panicked")),
        "{error:?}"
    );
    // The same client, the same pool: the server still answers.
    assert_eq!(call_remote_echo(&remote, "on".into()).await.unwrap(), "on");
}
