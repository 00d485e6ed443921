//! The C ABI called from Rust, over real loopback HTTP against `deepidv-mock`.

use std::ffi::{CStr, CString, c_char};
use std::ptr;
use std::time::{Duration, Instant};

use deepidv::*;
use deepidv_mock::{
    DEFAULT_API_KEY, ErrorBody, Fault, JobSpec, MockConfig, MockServer, Outcome, Scope,
};

use deepidv_result::*;

fn cs(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// # Safety
/// `p` is a valid C string.
fn text(p: *const c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: the library's strings are NUL-terminated.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned()
}

fn last_error() -> String {
    text(deepidv_last_error())
}

/// Fast options: 10 ms polls, 5 ms backoff, 2 s request timeout.
fn fast_options() -> *mut deepidv_client_options {
    let o = deepidv_client_options_new();
    // SAFETY: `o` is live.
    unsafe {
        assert_eq!(
            deepidv_client_options_set_poll_interval_ms(o, 10),
            DEEPIDV_OK
        );
        assert_eq!(
            deepidv_client_options_set_max_poll_interval_ms(o, 20),
            DEEPIDV_OK
        );
        assert_eq!(
            deepidv_client_options_set_retry_backoff_ms(o, 5),
            DEEPIDV_OK
        );
        assert_eq!(
            deepidv_client_options_set_request_timeout_ms(o, 2000),
            DEEPIDV_OK
        );
    }
    o
}

struct Client(*mut deepidv_client);
// SAFETY: the contract says a client is safe to share between threads.
unsafe impl Send for Client {}
// SAFETY: as above.
unsafe impl Sync for Client {}

impl Drop for Client {
    fn drop(&mut self) {
        // SAFETY: made by `client`, freed once.
        unsafe { deepidv_client_free(self.0) };
    }
}

fn client(mock: &MockServer, key: &str) -> Client {
    let opts = fast_options();
    let mut out = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: valid strings and out-pointers.
    let r = unsafe {
        deepidv_client_new_with_options(
            cs(key).as_ptr(),
            cs(&mock.url()).as_ptr(),
            opts,
            &mut out,
            &mut err,
        )
    };
    // SAFETY: options are copied; free them now.
    unsafe { deepidv_client_options_free(opts) };
    assert_eq!(r, DEEPIDV_OK, "{}", last_error());
    assert!(err.is_null());
    Client(out)
}

fn insert(mock: &MockServer, outcome: Outcome, pending: Duration) -> String {
    mock.insert_job(JobSpec {
        outcome,
        pending: Some(pending),
        processing: Some(Duration::ZERO),
        ..JobSpec::default()
    })
}

struct Got {
    result: deepidv_result,
    job: *mut deepidv_job,
    err: *mut deepidv_error,
}

impl Drop for Got {
    fn drop(&mut self) {
        // SAFETY: handed out by the library, freed once.
        unsafe {
            deepidv_job_free(self.job);
            deepidv_error_free(self.err);
        }
    }
}

impl Got {
    fn message(&self) -> String {
        // SAFETY: NULL or live.
        text(unsafe { deepidv_error_message(self.err) })
    }
}

fn wait(c: &Client, id: &str, timeout_ms: u64) -> Got {
    let mut g = Got {
        result: DEEPIDV_INTERNAL,
        job: ptr::null_mut(),
        err: ptr::null_mut(),
    };
    // SAFETY: valid arguments.
    g.result = unsafe {
        deepidv_client_wait_job_ex(
            c.0,
            cs(id).as_ptr(),
            timeout_ms,
            ptr::null(),
            &mut g.job,
            &mut g.err,
        )
    };
    g
}

fn get(c: &Client, id: &str) -> Got {
    let mut g = Got {
        result: DEEPIDV_INTERNAL,
        job: ptr::null_mut(),
        err: ptr::null_mut(),
    };
    // SAFETY: valid arguments.
    g.result = unsafe {
        deepidv_client_get_job_ex(c.0, cs(id).as_ptr(), ptr::null(), &mut g.job, &mut g.err)
    };
    g
}

#[test]
fn wait_ready_and_accessors() {
    let mock = MockServer::start_background(MockConfig::instant()).unwrap();
    let c = client(&mock, DEFAULT_API_KEY);
    let id = insert(&mock, Outcome::Ready, Duration::from_millis(30));
    let g = wait(&c, &id, 5000);
    assert_eq!(g.result, DEEPIDV_OK, "{}", g.message());
    assert!(g.err.is_null());
    // SAFETY: `g.job` is live.
    unsafe {
        assert_eq!(
            deepidv_job_get_status(g.job),
            deepidv_job_status::DEEPIDV_STATUS_READY
        );
        assert_eq!(text(deepidv_job_get_id(g.job)), id);
        assert_eq!(text(deepidv_job_get_status_text(g.job)), "ready");
        let result = text(deepidv_job_get_result_json(g.job));
        assert!(result.contains("riskLevel"), "{result}");
        assert!(deepidv_job_get_error(g.job).is_null());
        assert!(deepidv_job_get_created_at_ms(g.job) > 1_600_000_000_000);
        assert!(text(deepidv_job_get_json(g.job)).contains(&id));
    }
    // polled more than once: pending first
    let polls = mock
        .requests()
        .iter()
        .filter(|r| r.path.ends_with(&id))
        .count();
    assert!(polls >= 2, "{polls}");
    let ua = mock.requests()[0].header("user-agent").unwrap().to_owned();
    assert!(ua.ends_with("(ffi)"), "{ua}");
}

#[test]
fn the_minimum_api_reports_through_last_error() {
    let mock = MockServer::start_background(MockConfig::instant()).unwrap();
    let mut c = ptr::null_mut();
    // SAFETY: valid arguments.
    unsafe {
        assert_eq!(
            deepidv_client_new(
                cs(DEFAULT_API_KEY).as_ptr(),
                cs(&mock.url()).as_ptr(),
                &mut c
            ),
            DEEPIDV_OK
        );
        let mut job = ptr::dangling_mut::<deepidv_job>(); // garbage: must be overwritten with NULL
        let r = deepidv_client_get_job(c, cs("job_nope").as_ptr(), &mut job);
        assert_eq!(r, DEEPIDV_NOT_FOUND);
        assert!(job.is_null());
        let msg = last_error();
        assert!(msg.contains("404"), "{msg}");
        assert!(!msg.contains(DEFAULT_API_KEY));

        let id = insert(
            &mock,
            Outcome::Failed("document expired".into()),
            Duration::ZERO,
        );
        let r = deepidv_client_wait_job(c, cs(&id).as_ptr(), 5000, &mut job);
        assert_eq!(r, DEEPIDV_JOB_FAILED, "{}", last_error());
        assert!(!job.is_null(), "JOB_FAILED still hands out the job");
        assert_eq!(
            deepidv_job_get_status(job),
            deepidv_job_status::DEEPIDV_STATUS_FAILED
        );
        assert_eq!(text(deepidv_job_get_error(job)), "document expired");
        assert!(deepidv_job_get_result_json(job).is_null());
        deepidv_job_free(job);

        let r = deepidv_client_get_job(c, cs(&id).as_ptr(), &mut job);
        assert_eq!(r, DEEPIDV_OK, "a failed job is OK for a get");
        deepidv_job_free(job);
        deepidv_client_free(c);
    }
}

#[test]
fn every_http_outcome_has_its_code() {
    let mock = MockServer::start_background(MockConfig::instant()).unwrap();
    let c = client(&mock, DEFAULT_API_KEY);
    let id = insert(&mock, Outcome::Ready, Duration::ZERO);

    let bad_key = client(&mock, "sk_test_wrong_key_123");
    let g = get(&bad_key, &id);
    assert_eq!(g.result, DEEPIDV_UNAUTHORIZED, "{}", g.message());
    assert!(!g.message().contains("sk_test_wrong_key_123"));
    // SAFETY: live error.
    unsafe {
        assert_eq!(deepidv_error_http_status(g.err), 401);
        assert!(!deepidv_error_request_id(g.err).is_null());
        assert_eq!(deepidv_error_code(g.err), DEEPIDV_UNAUTHORIZED);
    }

    mock.inject(
        Scope::Job(id.clone()),
        Fault::Status {
            status: 422,
            body: ErrorBody::Json,
        },
        1,
    );
    assert_eq!(get(&c, &id).result, DEEPIDV_REJECTED);

    mock.inject(
        Scope::Job(id.clone()),
        Fault::Status {
            status: 503,
            body: ErrorBody::Html,
        },
        10,
    );
    let g = get(&c, &id);
    assert_eq!(g.result, DEEPIDV_UNAVAILABLE, "{}", g.message());
    mock.clear_faults();

    mock.inject(Scope::Job(id.clone()), Fault::Malformed, 1);
    assert_eq!(get(&c, &id).result, DEEPIDV_INVALID_RESPONSE);

    let slow = insert(&mock, Outcome::Ready, Duration::from_secs(60));
    let g = wait(&c, &slow, 100);
    assert_eq!(g.result, DEEPIDV_TIMEOUT, "{}", g.message());
    assert!(g.job.is_null());

    // an id that existed, then expired: NOT_FOUND, flagged as expired
    mock.expire(&id);
    let g = get(&c, &id);
    assert_eq!(g.result, DEEPIDV_NOT_FOUND);
}

#[test]
fn null_and_bad_utf8_are_invalid_arguments() {
    let mock = MockServer::start_background(MockConfig::instant()).unwrap();
    let c = client(&mock, DEFAULT_API_KEY);
    let bad = [0xffu8, 0xfe, 0x00];
    let bad = bad.as_ptr().cast::<c_char>();
    let url = cs(&mock.url());
    let key = cs(DEFAULT_API_KEY);
    // SAFETY: every pointer is NULL or valid; that is what is being tested.
    unsafe {
        let mut out = ptr::dangling_mut::<deepidv_client>();
        for (k, u) in [
            (ptr::null(), url.as_ptr()),
            (bad, url.as_ptr()),
            (key.as_ptr(), bad),
            (key.as_ptr(), cs("http://example.com").as_ptr()),
            (cs("").as_ptr(), url.as_ptr()),
        ] {
            out = ptr::dangling_mut::<deepidv_client>();
            assert_eq!(deepidv_client_new(k, u, &mut out), DEEPIDV_INVALID_ARGUMENT);
            assert!(out.is_null());
            assert!(!last_error().is_empty());
        }
        assert_eq!(
            deepidv_client_new(key.as_ptr(), url.as_ptr(), ptr::null_mut()),
            DEEPIDV_INVALID_ARGUMENT
        );
        assert_eq!(last_error(), "out is NULL");
        let _ = out;

        let mut job = ptr::dangling_mut::<deepidv_job>();
        assert_eq!(
            deepidv_client_get_job(ptr::null(), cs("job_1").as_ptr(), &mut job),
            DEEPIDV_INVALID_ARGUMENT
        );
        assert!(job.is_null());
        assert_eq!(last_error(), "client is NULL");
        assert_eq!(
            deepidv_client_get_job(c.0, ptr::null(), &mut job),
            DEEPIDV_INVALID_ARGUMENT
        );
        assert_eq!(
            deepidv_client_wait_job(c.0, bad, 10, &mut job),
            DEEPIDV_INVALID_ARGUMENT
        );
        assert_eq!(last_error(), "job_id is not valid UTF-8");
        assert_eq!(
            deepidv_client_wait_job(c.0, cs("../admin").as_ptr(), 10, &mut job),
            DEEPIDV_INVALID_ARGUMENT
        );
        assert!(job.is_null());
        let mut id = ptr::dangling_mut::<c_char>();
        let mut err = ptr::null_mut();
        assert_eq!(
            deepidv_client_create_adverse_media(
                c.0,
                cs("Ada").as_ptr(),
                ptr::null(),
                cs("a@b.co").as_ptr(),
                cs("1990-01-01").as_ptr(),
                ptr::null(),
                ptr::null(),
                &mut id,
                &mut err,
            ),
            DEEPIDV_INVALID_ARGUMENT
        );
        assert!(id.is_null());
        assert_eq!(text(deepidv_error_message(err)), "last_name is NULL");
        deepidv_error_free(err);
        assert!(mock.requests().is_empty(), "nothing reached the server");

        // accessors and frees with NULL
        assert_eq!(
            deepidv_job_get_status(ptr::null()),
            deepidv_job_status::DEEPIDV_STATUS_UNKNOWN
        );
        assert!(deepidv_job_get_id(ptr::null()).is_null());
        assert!(deepidv_job_get_result_json(ptr::null()).is_null());
        assert_eq!(deepidv_job_get_created_at_ms(ptr::null()), 0);
        assert_eq!(text(deepidv_error_message(ptr::null())), "");
        assert_eq!(deepidv_error_code(ptr::null()), DEEPIDV_INVALID_ARGUMENT);
        deepidv_job_free(ptr::null_mut());
        deepidv_client_free(ptr::null_mut());
        deepidv_error_free(ptr::null_mut());
        deepidv_string_free(ptr::null_mut());
        deepidv_cancel_free(ptr::null_mut());
        deepidv_cancel_cancel(ptr::null());
        deepidv_poller_free(ptr::null_mut());
        deepidv_client_options_free(ptr::null_mut());
        assert_eq!(
            deepidv_client_options_set_poll_interval_ms(ptr::null_mut(), 1),
            DEEPIDV_INVALID_ARGUMENT
        );
    }
}

#[test]
fn create_then_wait_with_idempotency() {
    let mock = MockServer::start_background(MockConfig::instant()).unwrap();
    let c = client(&mock, DEFAULT_API_KEY);
    let create = |key: &str| {
        let mut id = ptr::null_mut();
        // SAFETY: valid arguments.
        let r = unsafe {
            deepidv_client_create_adverse_media(
                c.0,
                cs("Ada").as_ptr(),
                cs("Clean").as_ptr(),
                cs("ada@example.com").as_ptr(),
                cs("1990-01-01").as_ptr(),
                cs("gb").as_ptr(),
                cs(key).as_ptr(),
                &mut id,
                ptr::null_mut(),
            )
        };
        assert_eq!(r, DEEPIDV_OK, "{}", last_error());
        let s = text(id);
        // SAFETY: handed out by the library.
        unsafe { deepidv_string_free(id) };
        s
    };
    let a = create("idem-ffi-1");
    let b = create("idem-ffi-1");
    assert_eq!(a, b, "same key, same job");
    assert_ne!(a, create("idem-ffi-2"));
    let g = wait(&c, &a, 5000);
    assert_eq!(g.result, DEEPIDV_OK);
    // SAFETY: live job.
    let result = text(unsafe { deepidv_job_get_result_json(g.job) });
    assert!(result.contains("\"riskLevel\":\"LOW\""), "{result}");
}

#[test]
fn one_client_many_threads() {
    let mock = MockServer::start_background(MockConfig::instant()).unwrap();
    let c = client(&mock, DEFAULT_API_KEY);
    let ids: Vec<String> = (0..6)
        .map(|_| insert(&mock, Outcome::Ready, Duration::from_millis(20)))
        .collect();
    std::thread::scope(|s| {
        for id in &ids {
            let c = &c;
            s.spawn(move || {
                let g = wait(c, id, 5000);
                assert_eq!(g.result, DEEPIDV_OK, "{}", g.message());
                // SAFETY: live job.
                assert_eq!(&text(unsafe { deepidv_job_get_id(g.job) }), id);
            });
        }
    });
}

#[test]
fn cancel_ends_a_wait_at_once() {
    let mock = MockServer::start_background(MockConfig::instant()).unwrap();
    let opts = fast_options();
    let mut c = ptr::null_mut();
    // SAFETY: valid arguments.
    unsafe {
        deepidv_client_options_set_poll_interval_ms(opts, 5000);
        assert_eq!(
            deepidv_client_new_with_options(
                cs(DEFAULT_API_KEY).as_ptr(),
                cs(&mock.url()).as_ptr(),
                opts,
                &mut c,
                ptr::null_mut()
            ),
            DEEPIDV_OK
        );
        deepidv_client_options_free(opts);
    }
    let c = Client(c);
    let id = insert(&mock, Outcome::Ready, Duration::from_secs(60));
    let cancel = deepidv_cancel_new();
    let start = Instant::now();
    let cancel_addr = cancel as usize;
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        // SAFETY: the handle outlives the thread (joined below).
        unsafe { deepidv_cancel_cancel(cancel_addr as *const deepidv_cancel) };
    });
    let mut job = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: valid arguments.
    let r =
        unsafe { deepidv_client_wait_job_ex(c.0, cs(&id).as_ptr(), 0, cancel, &mut job, &mut err) };
    t.join().unwrap();
    assert_eq!(r, DEEPIDV_TIMEOUT);
    assert!(job.is_null());
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    // SAFETY: handed out by the library.
    unsafe {
        assert!(text(deepidv_error_message(err)).contains("cancelled"));
        deepidv_error_free(err);
        deepidv_cancel_free(cancel);
    }
}

#[test]
fn version_and_names() {
    assert_eq!(text(deepidv_version()), env!("CARGO_PKG_VERSION"));
    assert_eq!(text(deepidv_result_name(4)), "DEEPIDV_NOT_FOUND");
    assert_eq!(text(deepidv_result_name(77)), "DEEPIDV_UNKNOWN_RESULT");
}

// ---------------------------------------------------------------------------------------------------------
// The sans-IO poller, driven with scripted answers and a virtual clock: no network.

#[derive(Debug)]
struct Poller(*mut deepidv_poller);

impl Drop for Poller {
    fn drop(&mut self) {
        // SAFETY: made by `new_poller`, freed once.
        unsafe { deepidv_poller_free(self.0) };
    }
}

fn new_poller(now: u64, timeout_ms: u64) -> Poller {
    let opts = fast_options();
    let mut p = ptr::null_mut();
    // SAFETY: valid arguments.
    let r = unsafe {
        let r = deepidv_poller_new_wait(
            cs("sk_test_poller").as_ptr(),
            cs("http://127.0.0.1:9").as_ptr(),
            cs("job_abc").as_ptr(),
            now,
            42,
            timeout_ms,
            opts,
            &mut p,
            ptr::null_mut(),
        );
        deepidv_client_options_free(opts);
        r
    };
    assert_eq!(r, DEEPIDV_OK, "{}", last_error());
    Poller(p)
}

fn poll(p: &Poller, now: u64) -> *const deepidv_action {
    let mut a = ptr::null();
    // SAFETY: live poller.
    assert_eq!(
        unsafe { deepidv_poller_poll(p.0, now, &mut a) },
        DEEPIDV_OK,
        "{}",
        last_error()
    );
    assert!(!a.is_null());
    a
}

fn respond(p: &Poller, now: u64, status: u16, body: &str) -> deepidv_result {
    let names = [cs("content-type"), cs("x-request-id")];
    let values = [cs("application/json"), cs("req_123")];
    let n: Vec<*const c_char> = names.iter().map(|s| s.as_ptr()).collect();
    let v: Vec<*const c_char> = values.iter().map(|s| s.as_ptr()).collect();
    // SAFETY: arrays of 2 valid strings; body of body.len() bytes.
    unsafe {
        deepidv_poller_handle_response(
            p.0,
            now,
            status,
            n.as_ptr(),
            v.as_ptr(),
            2,
            body.as_ptr(),
            body.len(),
        )
    }
}

fn job_json(status: &str) -> String {
    let extra = match status {
        "ready" => r#","result":{"riskLevel":"LOW"}"#,
        "failed" => r#","error":"nope""#,
        _ => "",
    };
    format!(r#"{{"jobId":"job_abc","status":"{status}","createdAt":1717593600000{extra}}}"#)
}

#[test]
fn poller_send_wait_done() {
    use deepidv_action_kind::*;
    let p = new_poller(1_000, 60_000);
    let a = poll(&p, 1_000);
    // SAFETY: `a` is live until the next poll.
    unsafe {
        assert_eq!(deepidv_action_get_kind(a), DEEPIDV_ACTION_SEND);
        assert_eq!(text(deepidv_action_get_method(a)), "GET");
        assert_eq!(text(deepidv_action_get_host(a)), "127.0.0.1");
        assert_eq!(deepidv_action_get_port(a), 9);
        assert_eq!(text(deepidv_action_get_scheme(a)), "http");
        assert_eq!(text(deepidv_action_get_path(a)), "/v1/async-jobs/job_abc");
        assert_eq!(
            text(deepidv_action_get_url(a)),
            "http://127.0.0.1:9/v1/async-jobs/job_abc"
        );
        assert_eq!(deepidv_action_get_timeout_ms(a), 2000);
        let n = deepidv_action_get_header_count(a);
        let headers: Vec<(String, String)> = (0..n)
            .map(|i| {
                (
                    text(deepidv_action_get_header_name(a, i)),
                    text(deepidv_action_get_header_value(a, i)),
                )
            })
            .collect();
        assert!(headers.contains(&("x-api-key".into(), "sk_test_poller".into())));
        assert!(deepidv_action_get_header_name(a, n).is_null());
        let mut len = 99;
        deepidv_action_get_body(a, &mut len);
        assert_eq!(len, 0);
    }
    // polling again before answering is a misuse
    let mut a2 = ptr::null();
    // SAFETY: live poller.
    assert_eq!(
        unsafe { deepidv_poller_poll(p.0, 1_001, &mut a2) },
        DEEPIDV_INVALID_ARGUMENT
    );
    assert_eq!(respond(&p, 1_010, 200, &job_json("pending")), DEEPIDV_OK);
    // answering twice is a misuse
    assert_eq!(
        respond(&p, 1_010, 200, &job_json("pending")),
        DEEPIDV_INVALID_ARGUMENT
    );
    // SAFETY: live poller.
    assert_eq!(
        unsafe { deepidv_poller_last_status(p.0) },
        deepidv_job_status::DEEPIDV_STATUS_PENDING
    );
    let a = poll(&p, 1_010);
    // SAFETY: live action.
    let (wait, until) = unsafe {
        assert_eq!(deepidv_action_get_kind(a), DEEPIDV_ACTION_WAIT);
        (
            deepidv_action_get_wait_ms(a),
            deepidv_action_get_wait_until_ms(a),
        )
    };
    // 10 ms interval ±20 % jitter, relative to the now we passed
    assert!((8..=12).contains(&wait), "{wait}");
    assert_eq!(until, 1_010 + wait);
    // taking the outcome before DONE is a misuse
    let mut job = ptr::null_mut();
    // SAFETY: live poller.
    assert_eq!(
        unsafe { deepidv_poller_take_job(p.0, &mut job, ptr::null_mut()) },
        DEEPIDV_INVALID_ARGUMENT
    );
    // a transport error is retried
    let a = poll(&p, until);
    // SAFETY: live action / poller.
    unsafe {
        assert_eq!(deepidv_action_get_kind(a), DEEPIDV_ACTION_SEND);
        assert_eq!(
            deepidv_poller_handle_transport_error(p.0, until + 1, 9, ptr::null()),
            DEEPIDV_INVALID_ARGUMENT,
            "unknown kind"
        );
        assert_eq!(
            deepidv_poller_handle_transport_error(
                p.0,
                until + 1,
                deepidv_transport_error::DEEPIDV_TRANSPORT_IO as u32,
                cs("reset").as_ptr()
            ),
            DEEPIDV_OK
        );
    }
    let mut now = until + 1;
    let a = loop {
        let a = poll(&p, now);
        // SAFETY: live action.
        match unsafe { deepidv_action_get_kind(a) } {
            DEEPIDV_ACTION_WAIT => now += unsafe { deepidv_action_get_wait_ms(a) },
            DEEPIDV_ACTION_SEND => break a,
            DEEPIDV_ACTION_DONE => panic!("done too early"),
        }
    };
    let _ = a;
    assert_eq!(respond(&p, now, 200, &job_json("ready")), DEEPIDV_OK);
    let a = poll(&p, now);
    // SAFETY: live action / poller.
    unsafe {
        assert_eq!(deepidv_action_get_kind(a), DEEPIDV_ACTION_DONE);
        assert_eq!(deepidv_action_get_result(a), DEEPIDV_OK);
        let mut err = ptr::null_mut();
        assert_eq!(deepidv_poller_take_job(p.0, &mut job, &mut err), DEEPIDV_OK);
        assert!(err.is_null());
        assert_eq!(
            text(deepidv_job_get_result_json(job)),
            r#"{"riskLevel":"LOW"}"#
        );
        deepidv_job_free(job);
        assert_eq!(
            deepidv_poller_take_job(p.0, &mut job, ptr::null_mut()),
            DEEPIDV_INVALID_ARGUMENT,
            "taken twice"
        );
        // DONE stays DONE
        let a = poll(&p, now + 5);
        assert_eq!(deepidv_action_get_kind(a), DEEPIDV_ACTION_DONE);
    }
}

#[test]
fn poller_failed_and_errors() {
    let p = new_poller(0, 60_000);
    poll(&p, 0);
    assert_eq!(respond(&p, 1, 200, &job_json("failed")), DEEPIDV_OK);
    let a = poll(&p, 1);
    let mut job = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: live objects.
    unsafe {
        assert_eq!(deepidv_action_get_result(a), DEEPIDV_JOB_FAILED);
        assert_eq!(
            deepidv_poller_take_job(p.0, &mut job, &mut err),
            DEEPIDV_JOB_FAILED
        );
        assert!(!job.is_null());
        assert_eq!(text(deepidv_job_get_error(job)), "nope");
        assert_eq!(deepidv_error_code(err), DEEPIDV_JOB_FAILED);
        deepidv_job_free(job);
        deepidv_error_free(err);
    }

    let p = new_poller(0, 60_000);
    poll(&p, 0);
    assert_eq!(
        respond(&p, 1, 401, r#"{"message":"API key is invalid"}"#),
        DEEPIDV_OK
    );
    let a = poll(&p, 1);
    // SAFETY: live objects.
    unsafe {
        assert_eq!(deepidv_action_get_result(a), DEEPIDV_UNAUTHORIZED);
        assert_eq!(
            deepidv_poller_take_job(p.0, &mut job, &mut err),
            DEEPIDV_UNAUTHORIZED
        );
        assert!(job.is_null());
        assert_eq!(text(deepidv_error_request_id(err)), "req_123");
        assert_eq!(deepidv_error_http_status(err), 401);
        deepidv_error_free(err);
    }

    // bad inputs to handle_response
    let p = new_poller(0, 60_000);
    poll(&p, 0);
    // SAFETY: deliberately bad arguments.
    unsafe {
        assert_eq!(
            deepidv_poller_handle_response(p.0, 1, 42, ptr::null(), ptr::null(), 0, ptr::null(), 0),
            DEEPIDV_INVALID_ARGUMENT
        );
        assert_eq!(
            deepidv_poller_handle_response(
                p.0,
                1,
                200,
                ptr::null(),
                ptr::null(),
                1,
                ptr::null(),
                0
            ),
            DEEPIDV_INVALID_ARGUMENT
        );
        assert_eq!(
            deepidv_poller_handle_response(
                p.0,
                1,
                200,
                ptr::null(),
                ptr::null(),
                0,
                ptr::null(),
                5
            ),
            DEEPIDV_INVALID_ARGUMENT
        );
        let mut a = ptr::null();
        assert_eq!(
            deepidv_poller_poll(ptr::null_mut(), 0, &mut a),
            DEEPIDV_INVALID_ARGUMENT
        );
        assert_eq!(
            deepidv_poller_poll(p.0, 0, ptr::null_mut()),
            DEEPIDV_INVALID_ARGUMENT
        );
        let mut q = ptr::dangling_mut::<deepidv_poller>();
        assert_eq!(
            deepidv_poller_new_wait(
                ptr::null(),
                ptr::null(),
                cs("j").as_ptr(),
                0,
                0,
                0,
                ptr::null(),
                &mut q,
                ptr::null_mut()
            ),
            DEEPIDV_INVALID_ARGUMENT
        );
        assert!(q.is_null());
    }
    // the deadline: a wait that never finishes ends in TIMEOUT on the virtual clock
    let p = new_poller(0, 100);
    let mut now = 0;
    let result = loop {
        let a = poll(&p, now);
        // SAFETY: live action.
        match unsafe { deepidv_action_get_kind(a) } {
            deepidv_action_kind::DEEPIDV_ACTION_SEND => {
                assert_eq!(respond(&p, now, 200, &job_json("processing")), DEEPIDV_OK)
            }
            deepidv_action_kind::DEEPIDV_ACTION_WAIT => {
                now += unsafe { deepidv_action_get_wait_ms(a) }
            }
            deepidv_action_kind::DEEPIDV_ACTION_DONE => {
                break unsafe { deepidv_action_get_result(a) };
            }
        }
        assert!(now < 10_000, "livelock");
    };
    assert_eq!(result, DEEPIDV_TIMEOUT);
    // the last poll goes out a tenth of the 100 ms wait before its deadline, and its answer ends it
    assert!((90..=100).contains(&now), "{now}");
}

/// A certificate failure reported by a program's own TLS ends the wait at once (no retry, no backoff):
/// UNAVAILABLE, with the core's message saying what to do.
#[test]
fn poller_certificate_failures_are_not_retried() {
    use deepidv_transport_error::*;
    assert_eq!(DEEPIDV_TRANSPORT_OTHER as u32, 3, "existing values stay");
    for (kind, number, says) in [
        (
            DEEPIDV_TRANSPORT_UNTRUSTED_CERTIFICATE,
            4,
            &[
                "certificate not trusted",
                "deepidv_client_options_set_ca_file",
                "WithCACertFile",
            ][..],
        ),
        (
            DEEPIDV_TRANSPORT_HOSTNAME_MISMATCH,
            5,
            &["certificate is for another host", "base URL"][..],
        ),
    ] {
        assert_eq!(kind as u32, number);
        let p = new_poller(0, 60_000);
        poll(&p, 0);
        // SAFETY: live poller; a valid string.
        let r = unsafe {
            deepidv_poller_handle_transport_error(
                p.0,
                1,
                kind as u32,
                cs("x509: certificate signed by unknown authority").as_ptr(),
            )
        };
        assert_eq!(r, DEEPIDV_OK, "{}", last_error());
        // at once: DONE on the next poll, at the same instant, after the one request
        let a = poll(&p, 1);
        let mut job = ptr::dangling_mut::<deepidv_job>();
        let mut err = ptr::null_mut();
        // SAFETY: live objects.
        unsafe {
            assert_eq!(
                deepidv_action_get_kind(a),
                deepidv_action_kind::DEEPIDV_ACTION_DONE,
                "{kind:?} was retried"
            );
            assert_eq!(deepidv_action_get_result(a), DEEPIDV_UNAVAILABLE);
            assert_eq!(
                deepidv_poller_take_job(p.0, &mut job, &mut err),
                DEEPIDV_UNAVAILABLE
            );
            assert!(job.is_null());
            let message = text(deepidv_error_message(err));
            for s in says {
                assert!(message.contains(s), "{kind:?}: {message}");
            }
            assert!(message.contains("unknown authority"), "{message}");
            assert!(!message.contains("gave up"), "retried: {message}");
            assert_eq!(deepidv_error_http_status(err), 0);
            deepidv_error_free(err);
        }
    }
    // the next number is still unknown
    let p = new_poller(0, 60_000);
    poll(&p, 0);
    // SAFETY: live poller.
    assert_eq!(
        unsafe { deepidv_poller_handle_transport_error(p.0, 1, 6, ptr::null()) },
        DEEPIDV_INVALID_ARGUMENT
    );
    assert!(last_error().contains("unknown transport error kind 6"));
}

// ---------------------------------------------------------------------------------------------------------
// Save and resume: a wait that survives a process restart.

/// Answers every SEND with `status`/`body`, and waits out every WAIT, on the virtual clock, until DONE,
/// or the first WAIT after `sends` answers. Returns the clock and the DONE result, if DONE came.
fn drive(
    p: &Poller,
    mut now: u64,
    sends: usize,
    status: u16,
    body: &str,
) -> (u64, Option<deepidv_result>) {
    use deepidv_action_kind::*;
    let mut sent = 0;
    for _ in 0..100_000 {
        let a = poll(p, now);
        // SAFETY: live action.
        match unsafe { deepidv_action_get_kind(a) } {
            // between steps, once `sends` requests were answered
            DEEPIDV_ACTION_WAIT if sent == sends => return (now, None),
            DEEPIDV_ACTION_SEND => {
                sent += 1;
                assert_eq!(
                    respond(p, now, status, body),
                    DEEPIDV_OK,
                    "{}",
                    last_error()
                );
            }
            DEEPIDV_ACTION_WAIT => now = unsafe { deepidv_action_get_wait_until_ms(a) },
            DEEPIDV_ACTION_DONE => return (now, Some(unsafe { deepidv_action_get_result(a) })),
        }
    }
    panic!("livelock");
}

fn save(p: *const deepidv_poller) -> Result<String, (deepidv_result, String)> {
    let mut json = ptr::dangling_mut::<c_char>();
    let mut err = ptr::null_mut();
    // SAFETY: valid out-pointers; `p` is NULL or live.
    let r = unsafe { deepidv_poller_save(p, &mut json, &mut err) };
    if r != DEEPIDV_OK {
        assert!(json.is_null(), "no output on failure");
        // SAFETY: the error was handed out.
        let msg = unsafe {
            let m = text(deepidv_error_message(err));
            assert_eq!(deepidv_error_code(err), r);
            deepidv_error_free(err);
            m
        };
        return Err((r, msg));
    }
    assert!(err.is_null());
    let s = text(json);
    // SAFETY: handed out by the library.
    unsafe { deepidv_string_free(json) };
    Ok(s)
}

fn resume(key: &str, state: &str, now: u64) -> Result<Poller, (deepidv_result, String)> {
    let opts = fast_options();
    let mut p = ptr::dangling_mut::<deepidv_poller>();
    let mut err = ptr::null_mut();
    let state = CString::new(state).unwrap();
    // SAFETY: valid arguments.
    let r = unsafe {
        let r = deepidv_poller_resume(
            cs(key).as_ptr(),
            cs("http://127.0.0.1:9").as_ptr(),
            state.as_ptr(),
            now,
            opts,
            &mut p,
            &mut err,
        );
        deepidv_client_options_free(opts);
        r
    };
    if r != DEEPIDV_OK {
        assert!(p.is_null(), "no output on failure");
        // SAFETY: the error was handed out.
        let msg = unsafe {
            let m = text(deepidv_error_message(err));
            assert_eq!(deepidv_error_code(err), r);
            deepidv_error_free(err);
            m
        };
        assert_eq!(last_error(), msg);
        return Err((r, msg));
    }
    assert!(err.is_null() && !p.is_null());
    Ok(Poller(p))
}

fn unix_ms_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn save_then_resume_in_a_new_process_keeps_the_deadline() {
    let before = unix_ms_now();
    let p = new_poller(1_000, 60_000);
    // SAFETY: live poller.
    assert_eq!(unsafe { deepidv_poller_deadline_ms(p.0) }, 61_000);
    let (now, done) = drive(&p, 1_000, 2, 200, &job_json("processing"));
    assert_eq!(done, None);
    let json = save(p.0).unwrap();
    let mut state: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(state["job_id"], "job_abc");
    assert_eq!(state["attempts"], 2);
    assert_eq!(state["polls"], 2);
    assert_eq!(state["last_status"], "processing");
    assert_eq!(state["seen"], true);
    assert_eq!(state["timeout_ms"], 60_000);
    let started = state["started_at_unix_ms"].as_i64().unwrap();
    assert!((before..=unix_ms_now()).contains(&started), "{started}");
    assert!(
        !json.contains("sk_test_poller"),
        "the key is not in the state"
    );
    // the old process stops; it may still poll, the state is already taken
    assert!(now > 1_000);
    drop(p);

    // A new process, 20 s after the wait started by the wall clock, with a clock of another origin.
    state["started_at_unix_ms"] = (unix_ms_now() - 20_000).into();
    let origin = 7_000_000;
    let q = resume("sk_test_poller", &state.to_string(), origin).unwrap();
    // SAFETY: live poller.
    let deadline = unsafe { deepidv_poller_deadline_ms(q.0) };
    // 60 s budget, 20 s (and the few ms this test took) already spent
    assert!(
        (origin + 39_000..=origin + 40_000).contains(&deadline),
        "{deadline}"
    );
    // SAFETY: live poller.
    assert_eq!(
        unsafe { deepidv_poller_last_status(q.0) },
        deepidv_job_status::DEEPIDV_STATUS_PROCESSING
    );
    // saved again, it is the same wait
    let again: serde_json::Value = serde_json::from_str(&save(q.0).unwrap()).unwrap();
    assert_eq!(again["started_at_unix_ms"], state["started_at_unix_ms"]);
    assert_eq!(again["attempts"], 2);
    assert_eq!(again["rng"], state["rng"]);

    // It polls at once, on the new clock, and a 404 now means the job expired.
    let a = poll(&q, origin);
    // SAFETY: live action.
    unsafe {
        assert_eq!(
            deepidv_action_get_kind(a),
            deepidv_action_kind::DEEPIDV_ACTION_SEND
        );
        assert_eq!(text(deepidv_action_get_path(a)), "/v1/async-jobs/job_abc");
        assert!(deepidv_action_get_timeout_ms(a) <= 2000);
    }
    assert_eq!(
        respond(&q, origin + 5, 404, r#"{"message":"job not found"}"#),
        DEEPIDV_OK
    );
    let a = poll(&q, origin + 5);
    let mut job = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: live objects.
    unsafe {
        assert_eq!(deepidv_action_get_result(a), DEEPIDV_NOT_FOUND);
        assert_eq!(
            deepidv_poller_take_job(q.0, &mut job, &mut err),
            DEEPIDV_NOT_FOUND
        );
        assert!(job.is_null());
        assert!(
            deepidv_error_is_expired(err),
            "{}",
            text(deepidv_error_message(err))
        );
        assert!(text(deepidv_error_message(err)).contains("expired"));
        deepidv_error_free(err);
    }

    // The same state driven to the end: the wait times out at the original deadline, not 60 s later.
    let q = resume("sk_test_poller", &state.to_string(), origin).unwrap();
    // SAFETY: live poller.
    let deadline = unsafe { deepidv_poller_deadline_ms(q.0) };
    let (end, done) = drive(&q, origin, usize::MAX, 200, &job_json("processing"));
    assert_eq!(done, Some(DEEPIDV_TIMEOUT));
    assert_eq!(
        end,
        deadline - 250,
        "the last poll lands 250 ms before the deadline, and its answer ends the wait"
    );

    // A state whose budget is spent times out at once, without a request: one
    // could only outlive the deadline.
    state["started_at_unix_ms"] = (unix_ms_now() - 61_000).into();
    let q = resume("sk_test_poller", &state.to_string(), 5).unwrap();
    // SAFETY: live poller.
    assert_eq!(unsafe { deepidv_poller_deadline_ms(q.0) }, 5);
    assert_eq!(
        drive(&q, 5, 0, 200, &job_json("ready")),
        (5, Some(DEEPIDV_TIMEOUT)),
        "no request is sent (one would have found the job ready)"
    );
}

#[test]
fn save_is_allowed_in_flight_and_when_done() {
    let p = new_poller(0, 60_000);
    let a = poll(&p, 0);
    // SAFETY: live action.
    assert_eq!(
        unsafe { deepidv_action_get_kind(a) },
        deepidv_action_kind::DEEPIDV_ACTION_SEND
    );
    // in flight: the state counts the request, and the resumed wait sends it again
    let state: serde_json::Value = serde_json::from_str(&save(p.0).unwrap()).unwrap();
    assert_eq!(state["attempts"], 1);
    assert_eq!(state["seen"], false);
    // the poller saved in flight goes on as if nothing happened
    assert_eq!(respond(&p, 3, 200, &job_json("ready")), DEEPIDV_OK);
    let q = resume("sk_test_poller", &state.to_string(), 100).unwrap();
    let a = poll(&q, 100);
    // SAFETY: live action.
    assert_eq!(
        unsafe { deepidv_action_get_kind(a) },
        deepidv_action_kind::DEEPIDV_ACTION_SEND
    );
    // never seen before the save: a 404 is "not found", not "expired"
    assert_eq!(
        respond(&q, 101, 404, r#"{"message":"job not found"}"#),
        DEEPIDV_OK
    );
    let mut job = ptr::null_mut();
    let mut err = ptr::null_mut();
    poll(&q, 101);
    // SAFETY: live objects.
    unsafe {
        assert_eq!(
            deepidv_poller_take_job(q.0, &mut job, &mut err),
            DEEPIDV_NOT_FOUND
        );
        assert!(!deepidv_error_is_expired(err));
        assert!(text(deepidv_error_message(err)).contains("job_abc"));
        deepidv_error_free(err);
    }
    // done: still saveable
    let a = poll(&p, 3);
    // SAFETY: live action.
    assert_eq!(unsafe { deepidv_action_get_result(a) }, DEEPIDV_OK);
    let done: serde_json::Value = serde_json::from_str(&save(p.0).unwrap()).unwrap();
    assert_eq!(done["last_status"], "ready");
}

#[test]
fn save_and_resume_refuse_bad_input() {
    // NULLs
    assert_eq!(save(ptr::null()).unwrap_err().0, DEEPIDV_INVALID_ARGUMENT);
    let p = new_poller(0, 1_000);
    let mut err = ptr::null_mut();
    // SAFETY: deliberately NULL out-pointer.
    unsafe {
        assert_eq!(
            deepidv_poller_save(p.0, ptr::null_mut(), &mut err),
            DEEPIDV_INVALID_ARGUMENT
        );
        assert!(text(deepidv_error_message(err)).contains("state_json_out"));
        deepidv_error_free(err);
        assert_eq!(deepidv_poller_deadline_ms(ptr::null()), 0);
    }
    let good = save(p.0).unwrap();
    let good_c = cs(&good);
    // SAFETY: deliberately bad arguments.
    unsafe {
        let mut q = ptr::dangling_mut::<deepidv_poller>();
        let key = cs("sk_test_poller");
        let r = |k: *const c_char, s: *const c_char, out: *mut *mut deepidv_poller| {
            deepidv_poller_resume(k, ptr::null(), s, 0, ptr::null(), out, ptr::null_mut())
        };
        assert_eq!(
            r(ptr::null(), good_c.as_ptr(), &mut q),
            DEEPIDV_INVALID_ARGUMENT
        );
        assert!(q.is_null());
        assert!(last_error().contains("api_key"), "{}", last_error());
        q = ptr::dangling_mut();
        assert_eq!(
            r(key.as_ptr(), ptr::null(), &mut q),
            DEEPIDV_INVALID_ARGUMENT
        );
        assert!(q.is_null());
        assert!(last_error().contains("state_json"), "{}", last_error());
        assert_eq!(
            r(key.as_ptr(), good_c.as_ptr(), ptr::null_mut()),
            DEEPIDV_INVALID_ARGUMENT
        );
        let bad_utf8 = [0xffu8, 0xfe, 0];
        assert_eq!(
            r(key.as_ptr(), bad_utf8.as_ptr().cast(), &mut q),
            DEEPIDV_INVALID_ARGUMENT
        );
        // the default base URL, no options: fine
        assert_eq!(r(key.as_ptr(), good_c.as_ptr(), &mut q), DEEPIDV_OK);
        assert_eq!(
            deepidv_action_get_kind(poll(&Poller(q), 0)),
            deepidv_action_kind::DEEPIDV_ACTION_SEND
        );
    }

    // Not a state: one line, says what it wanted, never the key (even when the key is in the input).
    let key = "sk_test_poller";
    let with_key = good.replace("\"timeout_ms\":1000", &format!("\"timeout_ms\":\"{key}\""));
    assert_ne!(with_key, good);
    let long = format!("[{}]", "1,".repeat(40_000) + "1");
    for bad in [
        "",
        "{",
        "null",
        "[]",
        "{}",
        r#"{"job_id":"job_abc"}"#,
        &with_key,
        &long,
    ] {
        let (r, msg) = resume(key, bad, 0).unwrap_err();
        assert_eq!(r, DEEPIDV_INVALID_ARGUMENT, "{bad}");
        assert!(
            msg.starts_with("state_json is not a saved poller state"),
            "{msg}"
        );
        assert!(!msg.contains(key), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        assert!(msg.len() < 400, "{msg}");
    }
    // A hostile job id cannot come in through a state.
    for id in ["../x", "a/b", "..", "", "x\u{1b}[2J"] {
        let mut state: serde_json::Value = serde_json::from_str(&good).unwrap();
        state["job_id"] = id.into();
        let (r, msg) = resume(key, &state.to_string(), 0).unwrap_err();
        assert_eq!(r, DEEPIDV_INVALID_ARGUMENT, "{id:?}");
        assert!(msg.contains("invalid job id"), "{msg}");
        assert!(!msg.contains('\u{1b}'), "{msg}");
    }
    // A bad key or URL is reported as for a new poller.
    let (r, msg) = resume("", &good, 0).unwrap_err();
    assert_eq!(r, DEEPIDV_INVALID_ARGUMENT);
    assert!(msg.to_lowercase().contains("key"), "{msg}");
    // Extreme but well-formed numbers do not panic.
    let mut state: serde_json::Value = serde_json::from_str(&good).unwrap();
    state["timeout_ms"] = u64::MAX.into();
    state["started_at_unix_ms"] = i64::MIN.into();
    let q = resume(key, &state.to_string(), u64::MAX / 2).unwrap();
    poll(&q, u64::MAX / 2);
    state["started_at_unix_ms"] = i64::MAX.into();
    let q = resume(key, &state.to_string(), 0).unwrap();
    poll(&q, 0);

    // A get cannot be saved: only waits resume.
    let opts = fast_options();
    let mut g = ptr::null_mut();
    // SAFETY: valid arguments.
    unsafe {
        assert_eq!(
            deepidv_poller_new_get(
                cs(key).as_ptr(),
                cs("http://127.0.0.1:9").as_ptr(),
                cs("job_abc").as_ptr(),
                0,
                1,
                opts,
                &mut g,
                ptr::null_mut()
            ),
            DEEPIDV_OK
        );
        deepidv_client_options_free(opts);
    }
    let g = Poller(g);
    // SAFETY: live poller.
    assert_eq!(unsafe { deepidv_poller_deadline_ms(g.0) }, 0);
    let (r, msg) = save(g.0).unwrap_err();
    assert_eq!(r, DEEPIDV_INVALID_ARGUMENT);
    assert!(msg.contains("only a wait"), "{msg}");
    assert!(msg.contains("deepidv_poller_new_get"), "{msg}");
}

#[test]
fn network_options_are_checked_before_any_request() {
    let mock = MockServer::start_background(MockConfig::instant()).unwrap();
    // A bad proxy URL: refused at once, and the password is never shown.
    let o = fast_options();
    // SAFETY: `o` is live; valid strings.
    unsafe {
        let bad = cs("socks5://alice:hunter2@proxy:1080");
        assert_eq!(
            deepidv_client_options_set_proxy(o, bad.as_ptr()),
            DEEPIDV_INVALID_ARGUMENT
        );
        let message = last_error();
        assert!(
            message.contains("proxy") && !message.contains("hunter2"),
            "{message}"
        );
        assert_eq!(deepidv_client_options_set_proxy(o, ptr::null()), DEEPIDV_OK);
        assert_eq!(
            deepidv_client_options_set_ca_file(o, ptr::null()),
            DEEPIDV_INVALID_ARGUMENT
        );
        let missing = cs("/nonexistent/corp-ca.pem");
        assert_eq!(
            deepidv_client_options_set_ca_file(o, missing.as_ptr()),
            DEEPIDV_OK
        );
    }
    // The CA file is read when the client is made: missing → INVALID_ARGUMENT naming it.
    let mut out = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: valid strings, options and out-pointers.
    let r = unsafe {
        deepidv_client_new_with_options(
            cs(DEFAULT_API_KEY).as_ptr(),
            cs(&mock.url()).as_ptr(),
            o,
            &mut out,
            &mut err,
        )
    };
    assert_eq!(r, DEEPIDV_INVALID_ARGUMENT);
    assert!(out.is_null());
    assert!(
        last_error().contains("/nonexistent/corp-ca.pem"),
        "{}",
        last_error()
    );
    // SAFETY: made above, freed once (NULL is fine).
    unsafe {
        deepidv_error_free(err);
        deepidv_client_options_free(o);
    }
    assert!(mock.requests().is_empty());
}

/// `deepidv_client_get_proxy`: the library's decision, for programs that send requests themselves.
#[test]
fn get_proxy_is_the_decided_proxy() {
    let new_client = |url: &str, proxy: Option<&str>| {
        let o = fast_options();
        let mut out = ptr::null_mut();
        // SAFETY: `o` is live; valid strings and out-pointer.
        unsafe {
            if let Some(p) = proxy {
                assert_eq!(
                    deepidv_client_options_set_proxy(o, cs(p).as_ptr()),
                    DEEPIDV_OK
                );
            }
            let r = deepidv_client_new_with_options(
                cs(DEFAULT_API_KEY).as_ptr(),
                cs(url).as_ptr(),
                o,
                &mut out,
                ptr::null_mut(),
            );
            deepidv_client_options_free(o);
            assert_eq!(r, DEEPIDV_OK, "{}", last_error());
        }
        Client(out)
    };
    let proxy_of = |c: &Client| {
        // SAFETY: a live client.
        let p = unsafe { deepidv_client_get_proxy(c.0) };
        (!p.is_null()).then(|| text(p))
    };
    // An explicit proxy: that URL, credentials included, the same pointer on every call.
    let c = new_client(
        "https://api.deepidv.test",
        Some("http://alice:hunter2@Proxy.Corp:3128"),
    );
    assert_eq!(
        proxy_of(&c).as_deref(),
        Some("http://alice:hunter2@proxy.corp:3128")
    );
    // SAFETY: a live client.
    unsafe { assert_eq!(deepidv_client_get_proxy(c.0), deepidv_client_get_proxy(c.0)) };
    drop(c);
    // A loopback base URL is never proxied, even with an explicit proxy; nor is "" (no proxy at all).
    assert_eq!(
        proxy_of(&new_client(
            "http://127.0.0.1:9",
            Some("http://proxy.corp:3128")
        )),
        None
    );
    assert_eq!(
        proxy_of(&new_client("https://api.deepidv.test", Some(""))),
        None
    );
    // None set: the environment decides; whatever it says, loopback stays direct.
    assert_eq!(proxy_of(&new_client("http://localhost:9", None)), None);
    // NULL: NULL.
    // SAFETY: NULL is allowed.
    assert!(unsafe { deepidv_client_get_proxy(ptr::null()) }.is_null());
}

#[test]
fn user_agent_suffix_reaches_the_wire_and_bad_ones_are_refused() {
    let mock = MockServer::start_background(MockConfig::instant()).unwrap();
    let id = insert(&mock, Outcome::Ready, Duration::ZERO);
    let ua = |suffix: &str| format!("deepidv-rust/{} (ffi) {suffix}", deepidv_core::VERSION);
    let o = fast_options();
    // SAFETY: `o` is live or NULL (tested); strings are valid or deliberately not UTF-8.
    unsafe {
        assert_eq!(
            deepidv_client_options_set_user_agent_suffix(ptr::null_mut(), cs("a/1").as_ptr()),
            DEEPIDV_INVALID_ARGUMENT
        );
        assert_eq!(last_error(), "opts is NULL");
        assert_eq!(
            deepidv_client_options_set_user_agent_suffix(o, cs(" myapp/1.2 ").as_ptr()),
            DEEPIDV_OK
        );
        // A bad suffix: INVALID_ARGUMENT with the core's one-line message; the previous one stays.
        let long = "a".repeat(deepidv_core::MAX_USER_AGENT_SUFFIX + 1);
        for (bad, says) in [
            ("app\r\nX-Evil: 1", "visible ASCII"),
            ("app\u{7f}", "visible ASCII"),
            ("appé/1", "visible ASCII"),
            ("", "empty"),
            ("   ", "empty"),
            (long.as_str(), "at most 128"),
        ] {
            assert_eq!(
                deepidv_client_options_set_user_agent_suffix(o, cs(bad).as_ptr()),
                DEEPIDV_INVALID_ARGUMENT,
                "{bad:?}"
            );
            let message = last_error();
            assert!(
                message.starts_with("the user-agent suffix") && message.contains(says),
                "{bad:?}: {message}"
            );
            assert!(
                !message.contains('\n') && !message.contains('\r'),
                "{message}"
            );
        }
        let not_utf8 = [b'a', 0xff, 0];
        assert_eq!(
            deepidv_client_options_set_user_agent_suffix(o, not_utf8.as_ptr().cast()),
            DEEPIDV_INVALID_ARGUMENT
        );
        assert_eq!(last_error(), "suffix is not valid UTF-8");
    }
    let new_client = |o: *const deepidv_client_options| {
        let mut out = ptr::null_mut();
        // SAFETY: valid strings, options and out-pointer.
        let r = unsafe {
            deepidv_client_new_with_options(
                cs(DEFAULT_API_KEY).as_ptr(),
                cs(&mock.url()).as_ptr(),
                o,
                &mut out,
                ptr::null_mut(),
            )
        };
        assert_eq!(r, DEEPIDV_OK, "{}", last_error());
        Client(out)
    };
    let c = new_client(o);
    assert_eq!(get(&c, &id).result, DEEPIDV_OK);
    drop(c);
    let sent = mock.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header("user-agent"), Some(ua("myapp/1.2").as_str()));

    // The sans-IO poller made from the same options says the same.
    let mut p = ptr::null_mut();
    // SAFETY: valid arguments.
    unsafe {
        assert_eq!(
            deepidv_poller_new_get(
                cs(DEFAULT_API_KEY).as_ptr(),
                cs(&mock.url()).as_ptr(),
                cs(&id).as_ptr(),
                1,
                7,
                o,
                &mut p,
                ptr::null_mut(),
            ),
            DEEPIDV_OK,
            "{}",
            last_error()
        );
    }
    let p = Poller(p);
    let a = poll(&p, 1);
    // SAFETY: `a` is the live action of `p`.
    let headers: Vec<(String, String)> = unsafe {
        (0..deepidv_action_get_header_count(a))
            .map(|i| {
                (
                    text(deepidv_action_get_header_name(a, i)),
                    text(deepidv_action_get_header_value(a, i)),
                )
            })
            .collect()
    };
    assert!(
        headers.contains(&("user-agent".to_owned(), ua("myapp/1.2"))),
        "{headers:?}"
    );
    drop(p);

    // NULL removes it.
    // SAFETY: `o` is live.
    unsafe {
        assert_eq!(
            deepidv_client_options_set_user_agent_suffix(o, ptr::null()),
            DEEPIDV_OK
        );
    }
    let c = new_client(o);
    assert_eq!(get(&c, &id).result, DEEPIDV_OK);
    drop(c);
    // SAFETY: made above, freed once.
    unsafe { deepidv_client_options_free(o) };
    let sent = mock.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[1].header("user-agent"),
        Some(format!("deepidv-rust/{} (ffi)", deepidv_core::VERSION).as_str())
    );
}
