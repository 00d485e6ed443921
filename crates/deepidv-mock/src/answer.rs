//! An answer before it becomes an HTTP response: status, content type, body, the `x-request-id` every answer
//! carries.

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use serde::Serialize;

use crate::body::MockBody;

pub(crate) const JSON: &str = "application/json";
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A plain answer before it becomes a response.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) content_type: &'static str,
    pub(crate) body: Bytes,
    pub(crate) extra: Option<Box<(HeaderName, HeaderValue)>>,
}

impl Answer {
    pub(crate) fn json(status: StatusCode, value: &impl Serialize) -> Answer {
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
        Answer {
            status,
            content_type: JSON,
            body: Bytes::from(body),
            extra: None,
        }
    }

    pub(crate) fn error(status: StatusCode, message: &str, code: Option<&str>) -> Answer {
        #[derive(Serialize)]
        struct ErrorJson<'a> {
            message: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            code: Option<&'a str>,
        }
        Answer::json(status, &ErrorJson { message, code })
    }

    pub(crate) fn validation(message: &str) -> Answer {
        Answer::error(StatusCode::BAD_REQUEST, message, Some("VALIDATION_ERROR"))
    }

    pub(crate) fn method_not_allowed(allow: &'static str) -> Answer {
        let mut a = Answer::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            Some("METHOD_NOT_ALLOWED"),
        );
        a.extra = Some(Box::new((ALLOW, HeaderValue::from_static(allow))));
        a
    }

    pub(crate) fn not_found_route() -> Answer {
        Answer::error(StatusCode::NOT_FOUND, "Route not found", Some("NOT_FOUND"))
    }

    pub(crate) fn into_response(self, request_id: &str) -> Response<MockBody> {
        let body = if self.status == StatusCode::NO_CONTENT {
            MockBody::empty()
        } else {
            MockBody::full(self.body)
        };
        let mut resp = respond(self.status, request_id, body);
        if self.status != StatusCode::NO_CONTENT {
            resp.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        }
        if let Some(extra) = self.extra {
            let (k, v) = *extra;
            resp.headers_mut().insert(k, v);
        }
        resp
    }
}

pub(crate) fn respond(status: StatusCode, request_id: &str, body: MockBody) -> Response<MockBody> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}
