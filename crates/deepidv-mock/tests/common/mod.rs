//! A tiny HTTP/1.1 client over `std::net::TcpStream`, independent of any SDK, for the simulator's tests.

#![allow(dead_code)] // each test binary uses a different subset of these helpers

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

/// A parsed answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The connection closed before `Content-Length` bytes of body arrived.
    pub truncated: bool,
    pub content_length: Option<usize>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One keep-alive connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).expect("connect to the simulator");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Sends a request and reads one answer. `Err` when the connection closes before a full header block.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> io::Result<Resp> {
        let mut req =
            format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: application/json\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(b) = body {
            req.push_str(&format!(
                "content-type: application/json\r\ncontent-length: {}\r\n",
                b.len()
            ));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        if let Some(b) = body {
            bytes.extend_from_slice(b);
        }
        self.stream.write_all(&bytes)?;
        self.read_response()
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 64 * 1024];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    fn read_response(&mut self) -> io::Result<Resp> {
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if self.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "connection closed after {} bytes, before a full answer",
                        self.buf.len()
                    ),
                ));
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status line");
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let content_length = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok());
        assert!(
            !headers
                .iter()
                .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")),
            "the simulator should always send a Content-Length"
        );
        let want = content_length.unwrap_or(0);
        let mut truncated = false;
        while self.buf.len() < head_end + want {
            match self.fill() {
                Ok(0) | Err(_) => {
                    truncated = true;
                    break;
                }
                Ok(_) => {}
            }
        }
        let end = (head_end + want).min(self.buf.len());
        let body = self.buf[head_end..end].to_vec();
        self.buf.drain(..end);
        Ok(Resp {
            status,
            headers,
            body,
            truncated,
            content_length,
        })
    }

    /// Reads until the peer closes; returns the bytes received and how the read ended.
    pub fn read_to_close(&mut self) -> (Vec<u8>, io::Result<()>) {
        let mut rest = std::mem::take(&mut self.buf);
        let r = self.stream.read_to_end(&mut rest).map(|_| ());
        (rest, r)
    }
}

/// One request on a fresh connection.
pub fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> io::Result<Resp> {
    Conn::open(addr).send(method, path, headers, body)
}

pub fn get(addr: SocketAddr, path: &str, key: Option<&str>) -> Resp {
    let headers: Vec<(&str, &str)> = key.map(|k| ("x-api-key", k)).into_iter().collect();
    send(addr, "GET", path, &headers, None).expect("GET answered")
}

pub fn get_job(addr: SocketAddr, id: &str, key: &str) -> Resp {
    get(addr, &format!("/v1/async-jobs/{id}"), Some(key))
}

pub fn post_screening(
    addr: SocketAddr,
    body: &Value,
    key: Option<&str>,
    idempotency_key: Option<&str>,
) -> Resp {
    let mut headers = Vec::new();
    if let Some(k) = key {
        headers.push(("x-api-key", k));
    }
    if let Some(k) = idempotency_key {
        headers.push(("idempotency-key", k));
    }
    let body = serde_json::to_vec(body).unwrap();
    send(
        addr,
        "POST",
        "/v1/screening/adverse-media",
        &headers,
        Some(&body),
    )
    .expect("POST answered")
}

pub fn person(first: &str, last: &str) -> Value {
    serde_json::json!({
        "email": format!("{}.{}@example.com", first.to_lowercase(), last.to_lowercase()),
        "firstName": first,
        "lastName": last,
        "dateOfBirth": "1985-04-12",
        "country": "CA",
    })
}

pub fn post_admin(addr: SocketAddr, path: &str, body: &Value) -> Resp {
    let body = serde_json::to_vec(body).unwrap();
    send(addr, "POST", path, &[], Some(&body)).expect("admin answered")
}
