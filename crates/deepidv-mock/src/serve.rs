//! Connections: the accept loop, each connection's HTTP/1.1 service, and routing a request to the admin routes
//! or to the API (through any queued fault).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::admin::admin;
use crate::answer::Answer;
use crate::api::{api, is_creation, job_get_id};
use crate::body::MockBody;
use crate::fault::{self, Fault, Rendered};
use crate::state::Shared;

const ADMIN_PREFIX: &str = "/__mock/";
/// Largest request body read; larger ones answer 413.
const MAX_REQUEST_BODY: usize = 1024 * 1024;

/// Serves one connection-level request.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    kill: Arc<AtomicBool>,
    req: Request<Incoming>,
) -> Result<Response<MockBody>, io::Error> {
    let request_id = shared.next_request_id();
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_REQUEST_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(())
            } else {
                // the client went away mid-body: nothing to answer
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "request body not received",
                ));
            }
        }
    };
    let path = parts.uri.path();
    if path == "/__mock" || path.starts_with(ADMIN_PREFIX) {
        let answer = match body {
            Ok(body) => admin(&shared, &parts.method, path, &body),
            Err(()) => Answer::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body too large",
                None,
            ),
        };
        return Ok(answer.into_response(&request_id));
    }

    let recorded_path = parts
        .uri
        .path_and_query()
        .map_or_else(|| path.to_owned(), |pq| pq.as_str().to_owned());
    let seq = shared.record(
        &parts.method,
        recorded_path,
        &parts.headers,
        body.as_deref().unwrap_or_default(),
    );
    let key = parts.headers.get("x-api-key").and_then(|v| v.to_str().ok());
    let job_get = job_get_id(&parts.method, path);
    let fault = shared.take_fault(key, job_get, is_creation(&parts.method, path));

    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
    let api_answer = |modifier: Option<&Fault>| match &body {
        Ok(body) => api(&shared, &parts.method, path, &parts.headers, body, modifier),
        Err(()) => Answer::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request body too large",
            None,
        ),
    };
    let response = match fault::render(fault, &request_id, job_get, api_answer).await {
        Rendered::Response(response) => response,
        Rendered::Drop => {
            kill.store(true, Ordering::Relaxed);
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "deepidv-mock: dropped (injected fault)",
            ));
        }
    };
    shared.set_recorded_status(seq, response.status().as_u16());
    Ok(response)
}

/// A TCP stream that resets the connection (SO_LINGER 0) when dropped after a `Drop` fault.
struct KillableIo {
    inner: TcpStream,
    kill: Arc<AtomicBool>,
}

impl Drop for KillableIo {
    fn drop(&mut self) {
        if self.kill.load(Ordering::Relaxed) {
            let _ = self.inner.set_zero_linger();
        }
    }
}

impl AsyncRead for KillableIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The TLS acceptor for an identity (ring, HTTP/1.1); a bad certificate or key is `InvalidInput`.
pub(crate) fn acceptor(tls: Option<&crate::MockTls>) -> io::Result<Option<TlsAcceptor>> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let Some(tls) = tls else { return Ok(None) };
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("TLS {what}: {e}"))
    };
    let certs = CertificateDer::pem_slice_iter(&tls.cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("certificate", &e))?;
    if certs.is_empty() {
        return Err(bad("certificate", &"no PEM certificate"));
    }
    let key = PrivateKeyDer::from_pem_slice(&tls.key_pem).map_err(|e| bad("key", &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("setup", &e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad("certificate and key", &e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}

/// Accepts connections until the shutdown sender is dropped or signalled.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: Option<TlsAcceptor>,
    mut shutdown: watch::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    shared.connections.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(serve_connection(stream, Arc::clone(&shared), tls.clone(), shutdown.clone()));
                }
                // e.g. out of file descriptors: back off a little instead of spinning
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    tls: Option<TlsAcceptor>,
    shutdown: watch::Receiver<()>,
) {
    let _ = stream.set_nodelay(true);
    let kill = Arc::new(AtomicBool::new(false));
    let io = KillableIo {
        inner: stream,
        kill: Arc::clone(&kill),
    };
    match tls {
        None => serve_http(io, shared, kill, shutdown).await,
        Some(acceptor) => {
            let Ok(Ok(io)) =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(io)).await
            else {
                return; // a client that did not trust us, or never finished the handshake
            };
            shared.handshakes.fetch_add(1, Ordering::Relaxed);
            serve_http(io, shared, kill, shutdown).await;
        }
    }
}

async fn serve_http<I>(
    io: I,
    shared: Arc<Shared>,
    kill: Arc<AtomicBool>,
    mut shutdown: watch::Receiver<()>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(io);
    let service = service_fn(move |req| handle(Arc::clone(&shared), Arc::clone(&kill), req));
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::select! {
        _ = conn => {}
        _ = shutdown.changed() => {}
    }
}
