//! The response body type: a full body, a padded (oversized) body streamed in chunks, or a body that stops
//! part-way and then fails, which makes hyper close the connection.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

const PAD_CHUNK: usize = 64 * 1024;
static PAD: [u8; PAD_CHUNK] = [b'a'; PAD_CHUNK];

/// How long a truncated body waits after its partial bytes before failing (so they are flushed first).
const TRUNCATE_PAUSE: Duration = Duration::from_millis(30);

/// A response body.
#[derive(Debug)]
pub(crate) enum MockBody {
    /// The whole body at once.
    Full(Option<Bytes>),
    /// `head`, then `pad` bytes of `a`, then `tail`.
    Padded {
        head: Option<Bytes>,
        pad: usize,
        tail: Option<Bytes>,
    },
    /// `part`, then (after a short pause) an error; `len` is the size announced in the headers.
    Truncated {
        part: Option<Bytes>,
        len: u64,
        pause: Pin<Box<Sleep>>,
    },
}

impl MockBody {
    pub(crate) fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        MockBody::Full(if bytes.is_empty() { None } else { Some(bytes) })
    }

    pub(crate) fn empty() -> Self {
        MockBody::Full(None)
    }

    pub(crate) fn truncated(whole: Bytes) -> Self {
        let len = whole.len() as u64;
        let part = whole.slice(..whole.len() / 2);
        MockBody::Truncated {
            part: if part.is_empty() { None } else { Some(part) },
            len,
            pause: Box::pin(tokio::time::sleep(TRUNCATE_PAUSE)),
        }
    }
}

impl Body for MockBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            MockBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            MockBody::Padded { head, pad, tail } => {
                if let Some(h) = head.take() {
                    return Poll::Ready(Some(Ok(Frame::data(h))));
                }
                if *pad > 0 {
                    let n = (*pad).min(PAD_CHUNK);
                    *pad -= n;
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&PAD[..n])))));
                }
                Poll::Ready(tail.take().map(|t| Ok(Frame::data(t))))
            }
            MockBody::Truncated { part, pause, .. } => {
                if let Some(p) = part.take() {
                    return Poll::Ready(Some(Ok(Frame::data(p))));
                }
                match pause.as_mut().poll(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(()) => Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "deepidv-mock: truncated body (injected fault)",
                    )))),
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            MockBody::Full(b) => b.is_none(),
            MockBody::Padded { head, pad, tail } => head.is_none() && *pad == 0 && tail.is_none(),
            MockBody::Truncated { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            MockBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            MockBody::Padded { head, pad, tail } => SizeHint::with_exact(
                head.as_ref().map_or(0, |b| b.len() as u64)
                    + *pad as u64
                    + tail.as_ref().map_or(0, |b| b.len() as u64),
            ),
            MockBody::Truncated { len, .. } => SizeHint::with_exact(*len),
        }
    }
}
