//! What the tests that drive outside tools share: the workspace's folders, running a tool so
//! that a missing one fails loudly with the command that installs it, and the example servers
//! those tools talk to.
#![allow(dead_code)] // each test crate uses its part

#[cfg(feature = "http")]
pub mod http;
pub mod nats_server;
pub mod runs;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace().join("target"), PathBuf::from)
}

/// Runs `command` to success and returns its stdout; a tool that cannot start names `install`.
pub fn run(command: &mut Command, what: &str, install: &str) -> String {
    let output = command.output().unwrap_or_else(|error| {
        panic!("{what}: could not start it ({error}); install it: {install}")
    });
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Runs `command` and returns whether it succeeded, with its output: for checks that must fail.
pub fn outcome(command: &mut Command, what: &str) -> (bool, String) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{what}: could not start it ({error})"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// `npm ci` in `clients/js` when its packages are missing.
pub fn node_packages() -> PathBuf {
    let client = workspace().join("clients/js");
    if !client.join("node_modules/playwright-core").exists()
        || !client.join("node_modules/typescript").exists()
    {
        run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&client),
            "npm ci in clients/js",
            "apt-get install nodejs npm",
        );
    }
    client
}

/// Builds an example with every feature, as the README's test command builds it (then this is
/// a no-op; `cargo test --test x` alone does not build examples).
pub fn build_example(name: &str) -> PathBuf {
    run(
        Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "nonblocking-runtime",
                "--all-features",
                "--example",
                name,
            ])
            .current_dir(workspace()),
        &format!("building examples/{name}"),
        "rustup",
    );
    target_dir().join("debug/examples").join(name)
}

/// A free loopback port (free when asked; the caller binds it soon after).
pub fn free_port() -> u16 {
    let [port] = free_ports();
    port
}

/// `N` distinct free loopback ports (free when asked; the caller binds them soon after). All
/// are held while the next is picked: asked one after the other, the kernel may hand out a
/// port just let go, and two "different" origins would then be one.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let held: Vec<std::net::TcpListener> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|at| held[at].local_addr().unwrap().port())
}

/// An example server started on a free port, killed when dropped. Its first line of output is
/// its URL; the rest is echoed (a closed pipe would make its `println!` panic).
pub struct Example {
    child: Child,
    pub url: String,
}

impl Example {
    pub fn start(binary: &Path, args: &[&str]) -> Example {
        let mut child = Command::new(binary)
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("{} starts: {error}", binary.display()));
        let mut lines = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        lines
            .read_line(&mut first)
            .expect("the example prints its URL");
        std::thread::spawn(move || {
            for line in lines.lines().map_while(Result::ok) {
                println!("[example] {line}");
            }
        });
        let url = first.trim().trim_end_matches('/').to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        Example { child, url }
    }

    /// `GET` of `path`: the status line and headers (lowercased), and the body.
    pub fn get(&self, path: &str) -> (String, String) {
        self.get_with(path, &[])
    }

    /// `GET path` with these extra headers.
    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> (String, String) {
        let host = self.url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(host).expect("the example accepts");
        let extra: String = headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}\r\n"))
            .collect();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").expect("a whole response");
        (head.to_lowercase(), body.to_owned())
    }
}

/// One request on its own connection: the status line and headers (lowercased), and the body.
pub async fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request =
        format!("{method} {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.to_ascii_lowercase(), body.to_owned())
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (polling every 10 ms, up to 10 s) until `condition` holds; panics naming `what`.
#[allow(dead_code)] // not every test binary waits
pub async fn wait_for(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..1_000 {
        if condition() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{what}: not within 10 s");
}
