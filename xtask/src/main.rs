//! `cargo xtask test [cargo test arguments]`: the README's test command.
//!
//! The suite drives real programs: Node.js and npm (the JS client), Debian's Chromium (the
//! browser tests, through playwright-core), nats-server (the NATS tests) and Python 3 with
//! `venv` (the OpenAPI checks). This checks for each, installs the missing ones with apt when it
//! runs as root, or else prints the one command that would and stops; then it runs
//! `cargo test --workspace --all-features` with the arguments given. So on a machine with only
//! rustup the one command passes, and no test ever passes by skipping what it could not run.

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

/// A program the suite needs, how to tell it is there, and the Debian packages that bring it.
struct Needed {
    what: &'static str,
    present: fn() -> bool,
    packages: &'static [&'static str],
}

const NEEDED: &[Needed] = &[
    Needed {
        what: "Node.js and npm (the JS client's tests)",
        present: || on_path("node") && on_path("npm"),
        packages: &["nodejs", "npm"],
    },
    Needed {
        what: "Chromium (the browser tests)",
        present: || {
            std::env::var_os("CHROMIUM").is_some() || Path::new("/usr/bin/chromium").exists()
        },
        packages: &["chromium"],
    },
    Needed {
        what: "nats-server (the NATS tests)",
        present: || on_path("nats-server") || Path::new("/usr/sbin/nats-server").exists(),
        packages: &["nats-server"],
    },
    Needed {
        what: "Python 3 with venv (the OpenAPI checks)",
        present: || succeeds("python3", &["-c", "import venv, ensurepip"]),
        packages: &["python3", "python3-venv"],
    },
];

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("test") => test(args.collect()),
        other => {
            if let Some(other) = other {
                eprintln!("xtask: unknown command {other:?}");
            }
            eprintln!("usage: cargo xtask test [cargo test arguments]");
            ExitCode::FAILURE
        }
    }
}

fn test(cargo_args: Vec<String>) -> ExitCode {
    let missing: Vec<&Needed> = NEEDED.iter().filter(|needed| !(needed.present)()).collect();
    if !missing.is_empty() {
        let packages: Vec<&str> = missing
            .iter()
            .flat_map(|needed| needed.packages.iter().copied())
            .collect();
        for needed in &missing {
            eprintln!("xtask: missing {}", needed.what);
        }
        if !install(&packages) {
            eprintln!(
                "xtask: install them, then run this again:\n    sudo apt-get install -y {}",
                packages.join(" ")
            );
            return ExitCode::FAILURE;
        }
        if let Some(still) = NEEDED.iter().find(|needed| !(needed.present)()) {
            eprintln!("xtask: {} is still missing after the install", still.what);
            return ExitCode::FAILURE;
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["test", "--workspace", "--all-features"])
        .args(&cargo_args)
        .status();
    match status {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("xtask: could not run cargo: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Installs `packages` with apt when this runs as root on a machine that has it.
fn install(packages: &[&str]) -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0");
    if !root || !on_path("apt-get") {
        return false;
    }
    eprintln!("xtask: apt-get install -y {}", packages.join(" "));
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    let mut install = vec!["install", "-y"];
    install.extend_from_slice(packages);
    // A fresh machine's package lists may be empty or old: update once if the first try fails.
    apt(&install) || (apt(&["update"]) && apt(&install))
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}
