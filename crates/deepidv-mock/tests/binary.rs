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
    let pki = deepidv_mock::TestPki::generate(&["127.0.0.1"]).unwrap();
    let cert_path = dir.join(format!("deepidv-mock-cert-{}.pem", std::process::id()));
    let key_path = dir.join(format!("deepidv-mock-key-{}.pem", std::process::id()));
    std::fs::write(&cert_path, &pki.cert_pem).unwrap();
    std::fs::write(&key_path, &pki.key_pem).unwrap();
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

/// One GET over TLS to `addr`, verifying the server as `name` with `ca_pem` as the only root:
/// the status line, or the TLS error.
fn https_get(addr: SocketAddr, name: &str, ca_pem: &[u8]) -> Result<String, String> {
    use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
    use std::io::{Read, Write};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let server = ServerName::try_from(name.to_owned()).unwrap();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), server).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, std::net::TcpStream::connect(addr).unwrap());
    let request = format!(
        "GET /v1/async-jobs/job_x HTTP/1.1\r\nhost: {name}\r\nx-api-key: {}\r\nconnection: close\r\n\r\n",
        deepidv_mock::DEFAULT_API_KEY
    );
    tls.write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    let _ = tls.read_to_string(&mut answer);
    answer
        .lines()
        .next()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| "no answer".to_owned())
}

#[test]
fn tls_self_signed_serves_localhost_with_a_fresh_ca_written_to_dir() {
    let dir = std::env::temp_dir().join(format!("deepidv-mock-pki-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = Command::new(env!("CARGO_BIN_EXE_deepidv-mock"))
        .args(["--addr", "127.0.0.1:0", "--tls-self-signed"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim()
        .strip_prefix("listening on https://localhost:")
        .unwrap_or_else(|| panic!("{line:?}"))
        .parse()
        .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let ca = std::fs::read(dir.join("ca.pem")).unwrap();
    assert!(
        std::fs::read_to_string(dir.join("cert.pem"))
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "key.pem mode {mode:o}");
    }
    // trusted through ca.pem, as localhost: an HTTP answer (the job does not exist)
    assert_eq!(
        https_get(addr, "localhost", &ca).unwrap(),
        "HTTP/1.1 404 Not Found"
    );
    // the certificate is for localhost only
    let e = https_get(addr, "127.0.0.1", &ca).unwrap_err();
    assert!(
        e.contains("NotValidForName") || e.contains("not valid for"),
        "{e}"
    );
    // and another CA does not trust it
    let other = deepidv_mock::TestPki::generate(&["localhost"]).unwrap();
    let e = https_get(addr, "localhost", other.ca_pem.as_bytes()).unwrap_err();
    assert!(e.contains("invalid peer certificate"), "{e}");
    let _ = child.kill();
    let _ = child.wait();

    // a DIR that cannot be made: exit 2 naming it, nothing on stdout
    let out = Command::new(env!("CARGO_BIN_EXE_deepidv-mock"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--tls-self-signed",
            "/proc/deepidv/pki",
        ])
        .output()
        .unwrap();
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/proc/deepidv/pki"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_ne!(out.status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}
