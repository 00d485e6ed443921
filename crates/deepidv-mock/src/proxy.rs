//! A small real `CONNECT` proxy for tests: it opens a tunnel for each `CONNECT`
//! and records the target, the request's headers and every byte it relays, so a
//! test can check what a proxy sees.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// One tunnel, as the proxy saw it.
#[derive(Debug, Clone, Default)]
pub struct Tunnel {
    /// The `CONNECT` target (`host:port`), or the request line of anything else.
    pub target: String,
    /// The `Proxy-Authorization` header, if any.
    pub proxy_authorization: Option<String>,
    /// Every byte received from the client and from the server, in order of arrival.
    pub bytes: Vec<u8>,
}

type Tunnels = Arc<Mutex<Vec<Arc<Mutex<Tunnel>>>>>;

/// A running `CONNECT` proxy on `127.0.0.1`, on its own thread. Every tunnel
/// goes to the one upstream address it was started with, whatever the target's
/// host (so tests can use a host name that resolves nowhere else). Dropping it
/// stops it.
pub struct ConnectProxy {
    addr: SocketAddr,
    tunnels: Tunnels,
    shutdown: Option<watch::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ConnectProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectProxy")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl ConnectProxy {
    /// Starts a proxy whose tunnels all lead to `upstream`.
    pub fn start(upstream: SocketAddr) -> io::Result<ConnectProxy> {
        let std_listener = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = {
            let _guard = runtime.enter();
            TcpListener::from_std(std_listener)?
        };
        let tunnels = Tunnels::default();
        let (tx, mut rx) = watch::channel(());
        let accepted = Arc::clone(&tunnels);
        let thread = std::thread::Builder::new()
            .name("deepidv-proxy".into())
            .spawn(move || {
                runtime.block_on(async move {
                    loop {
                        tokio::select! {
                            _ = rx.changed() => break,
                            Ok((stream, _)) = listener.accept() => {
                                let tunnel = Arc::new(Mutex::new(Tunnel::default()));
                                accepted.lock().unwrap().push(Arc::clone(&tunnel));
                                tokio::spawn(relay(stream, upstream, tunnel));
                            }
                        }
                    }
                });
            })?;
        Ok(ConnectProxy {
            addr,
            tunnels,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every connection made to the proxy so far, in order.
    pub fn tunnels(&self) -> Vec<Tunnel> {
        self.tunnels
            .lock()
            .unwrap()
            .iter()
            .map(|t| t.lock().unwrap().clone())
            .collect()
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        drop(self.shutdown.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn relay(mut client: TcpStream, upstream: SocketAddr, tunnel: Arc<Mutex<Tunnel>>) {
    // The request head, at most 16 KiB.
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match client.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 16 * 1024 {
            return;
        }
    }
    let end = head.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
    let text = String::from_utf8_lossy(&head[..end]).into_owned();
    let mut lines = text.lines();
    let request_line = lines.next().unwrap_or_default().to_owned();
    {
        let mut t = tunnel.lock().unwrap();
        t.bytes.extend_from_slice(&head);
        t.proxy_authorization = lines
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("proxy-authorization"))
            .map(|(_, v)| v.trim().to_owned());
        t.target = match request_line.split(' ').collect::<Vec<_>>()[..] {
            ["CONNECT", target, _] => target.to_owned(),
            _ => request_line.clone(),
        };
    }
    if !request_line.starts_with("CONNECT ") {
        let _ = client
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await;
        return;
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    // Bytes the client sent after the head belong to the tunnel.
    if head.len() > end && server.write_all(&head[end..]).await.is_err() {
        return;
    }
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let up = copy_recording(&mut cr, &mut sw, &tunnel);
    let down = copy_recording(&mut sr, &mut cw, &tunnel);
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

async fn copy_recording<R, W>(from: &mut R, to: &mut W, tunnel: &Mutex<Tunnel>)
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        tunnel.lock().unwrap().bytes.extend_from_slice(&buf[..n]);
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
