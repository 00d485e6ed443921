//! The `deepidv-mock` binary: its first stdout line, its flags, and a clean exit on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use common::*;

struct Running {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(args: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_deepidv-mock"))
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn deepidv-mock");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let line = line.trim_end_matches('\n');
    let url = line
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("first line: {line:?}"));
    let addr: SocketAddr = url
        .parse()
        .unwrap_or_else(|_| panic!("first line: {line:?}"));
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    assert_ne!(addr.port(), 0);
    Running { child, addr }
}

#[test]
fn first_line_then_serves_with_the_default_key() {
    let running = spawn(&["--pending", "0", "--processing", "0"]);
    let r = post_screening(
        running.addr,
        &person("Jane", "Doe"),
        Some(deepidv_mock::DEFAULT_API_KEY),
        None,
    );
    assert_eq!(r.status, 202);
    assert_eq!(r.json()["status"], "ready");
    assert_eq!(get(running.addr, "/v1/async-jobs/job_x", None).status, 403);
}

#[test]
fn flags_configure_keys_timings_and_faults() {
    let running = spawn(&[
        "--api-key",
        "sk_test_one:org_1",
        "--api-key",
        "sk_test_two:org_2",
        "--pending",
        "10m",
        "--fault",
        "503x2",
        "--fault",
        "429x1",
    ]);
    let addr = running.addr;
    let r = get(addr, "/v1/async-jobs/job_x", Some("sk_test_one"));
    assert_eq!(r.status, 503);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert_eq!(
        get(addr, "/v1/async-jobs/job_x", Some("sk_test_one")).status,
        503
    );
    let r = get(addr, "/v1/async-jobs/job_x", Some("sk_test_one"));
    assert_eq!((r.status, r.header("retry-after")), (429, Some("1")));
    let r = post_screening(addr, &person("Jane", "Doe"), Some("sk_test_one"), None);
    assert_eq!(r.status, 202);
    assert_eq!(r.json()["status"], "pending");
    let id = r.json()["jobId"].as_str().unwrap().to_owned();
    assert_eq!(get_job(addr, &id, "sk_test_two").status, 403);
    assert_eq!(
        get_job(addr, &id, deepidv_mock::DEFAULT_API_KEY).status,
        401
    );
}

#[cfg(unix)]
#[test]
fn sigterm_exits_cleanly() {
    let mut running = spawn(&[]);
    let pid = running.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let exit = running.child.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "{exit:?}");
}

#[test]
fn bad_flags_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_deepidv-mock"))
        .args(["--fault", "explode"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn busy_address_exits_2_with_one_error_line() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_deepidv-mock"))
        .args(["--addr", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("error: cannot serve the simulator on "),
        "{stderr}"
    );
}

#[test]
fn tls_flags_serve_https_and_a_bad_file_exits_2() {
    let dir = std::env::temp_dir();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let cert_path = dir.join(format!("deepidv-mock-cert-{}.pem", std::process::id()));
    let key_path = dir.join(format!("deepidv-mock-key-{}.pem", std::process::id()));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_deepidv-mock"))
        .args(["--addr", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert_path)
        .arg("--tls-key")
        .arg(&key_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        line.starts_with("listening on https://127.0.0.1:"),
        "{line:?}"
    );

    // A key that is not PEM: exit 2, one line naming the problem, nothing on stdout.
    let out = Command::new(env!("CARGO_BIN_EXE_deepidv-mock"))
        .args(["--addr", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert_path)
        .arg("--tls-key")
        .arg(&cert_path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("TLS key"), "{stderr}");
    let out = Command::new(env!("CARGO_BIN_EXE_deepidv-mock"))
        .args([
            "--tls-cert",
            "/nonexistent/cert.pem",
            "--tls-key",
            "/nonexistent/key.pem",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/cert.pem"));
    let _ = std::fs::remove_file(cert_path);
    let _ = std::fs::remove_file(key_path);
}
