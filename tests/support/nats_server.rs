//! A real `nats-server` (Debian's, `apt-get install nats-server`) on free loopback ports,
//! started by a test and killed when dropped; optionally one node of a cluster.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, target_dir};

pub struct NatsServer {
    child: Option<Child>,
    pub port: u16,
    pub cluster_port: u16,
    config: PathBuf,
}

impl NatsServer {
    /// A lone server; `config` is extra configuration (e.g. `max_payload: 4096`).
    pub fn start(config: &str) -> NatsServer {
        NatsServer::launch(free_port(), free_port(), config, &[])
    }

    /// Three nodes routed to each other, each on its own client port.
    pub fn cluster() -> Vec<NatsServer> {
        let cluster_ports = [free_port(), free_port(), free_port()];
        let routes: Vec<String> = cluster_ports
            .iter()
            .map(|port| format!("nats-route://127.0.0.1:{port}"))
            .collect();
        cluster_ports
            .iter()
            .map(|&cluster_port| NatsServer::launch(free_port(), cluster_port, "", &routes))
            .collect()
    }

    fn launch(port: u16, cluster_port: u16, extra: &str, routes: &[String]) -> NatsServer {
        let dir = target_dir().join("nats-test");
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join(format!("nats-{port}.conf"));
        let cluster = if routes.is_empty() {
            String::new()
        } else {
            let routes = routes
                .iter()
                .map(|route| format!("\"{route}\""))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "cluster {{\n  name: \"test\"\n  listen: \"127.0.0.1:{cluster_port}\"\n  routes: [{routes}]\n}}\n"
            )
        };
        std::fs::write(
            &config,
            format!("listen: \"127.0.0.1:{port}\"\n{cluster}{extra}\n"),
        )
        .unwrap();
        let mut server = NatsServer {
            child: None,
            port,
            cluster_port,
            config,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let child = Command::new(nats_server())
            .arg("-c")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("nats-server could not start ({error}): install it with `apt-get install nats-server`"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server did not listen on {} within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server at once (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn nats_server() -> PathBuf {
    for candidate in ["/usr/sbin/nats-server", "/usr/bin/nats-server"] {
        if std::path::Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    panic!(
        "nats-server is missing: the NATS tests need a real server, `apt-get install nats-server` (the README's test command runs them)"
    )
}
