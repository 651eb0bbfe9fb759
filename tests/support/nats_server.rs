//! A real `nats-server` (Debian's, `apt-get install nats-server`) on free loopback ports,
//! started by a test and killed when dropped; optionally one node of a cluster.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::{free_port, free_ports, target_dir};

pub struct NatsServer {
    child: Option<Child>,
    pub port: u16,
    pub cluster_port: u16,
    config: PathBuf,
    /// This server's unique name, which its INFO line carries: how a test knows the server
    /// that answers on its port is the one it started (free ports can collide between tests
    /// that run at once, and a server that cannot bind exits while the other one answers).
    name: String,
    cluster: String,
    extra: String,
}

impl NatsServer {
    /// A lone server; `config` is extra configuration (e.g. `max_payload: 4096`).
    pub fn start(config: &str) -> NatsServer {
        let [client, cluster] = free_ports();
        NatsServer::launch(client, cluster, config, &[])
    }

    /// A lone server asked for `port`: on another one if that is taken.
    pub fn start_at(port: u16, config: &str) -> NatsServer {
        NatsServer::launch(port, free_port(), config, &[])
    }

    /// Three nodes routed to each other, each on its own client port.
    pub fn cluster() -> Vec<NatsServer> {
        let cluster_ports: [u16; 3] = free_ports();
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
        static STARTED: AtomicU32 = AtomicU32::new(0);
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
        let name = format!(
            "test-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        );
        let mut server = NatsServer {
            child: None,
            port,
            cluster_port,
            config: PathBuf::new(),
            name,
            cluster,
            extra: extra.to_owned(),
        };
        // A port another test took meanwhile: try again on a new one.
        for attempt in 1..=5 {
            match server.spawn() {
                Ok(()) => return server,
                Err(why) if attempt < 5 => {
                    eprintln!("nats-server on {}: {why}; trying another port", server.port);
                    server.port = free_port();
                }
                Err(why) => panic!("nats-server could not start: {why}"),
            }
        }
        unreachable!()
    }

    /// Starts the server on `self.port` and waits until it (and not another one) answers.
    fn spawn(&mut self) -> Result<(), String> {
        let dir = target_dir().join("nats-test");
        std::fs::create_dir_all(&dir).unwrap();
        self.config = dir.join(format!("nats-{}.conf", self.port));
        std::fs::write(
            &self.config,
            format!(
                "server_name: \"{}\"\nlisten: \"127.0.0.1:{}\"\n{}{}\n",
                self.name, self.port, self.cluster, self.extra
            ),
        )
        .unwrap();
        let mut child = Command::new(nats_server())
            .arg("-c")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("nats-server could not start ({error}): install it with `apt-get install nats-server`"));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("it exited ({status}): is the port taken?"));
            }
            if self.answers_as_itself() {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("it did not answer on {} within 10 s", self.port));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the server answering on the port sends this server's name in its INFO line.
    fn answers_as_itself(&self) -> bool {
        let Ok(stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut info = String::new();
        let _ = BufReader::new(stream).read_line(&mut info);
        info.contains(&format!("\"server_name\":\"{}\"", self.name))
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
