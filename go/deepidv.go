// Package deepidv is an idiomatic Go client for the deepidv async-jobs API, over the SDK's C library
// libdeepidv, found with pkg-config. Install the library, then use the module:
//
//	make && sudo make install PREFIX=/usr/local   # in a deepidv-rs checkout (see its README)
//	go get github.com/deepidv/deepidv-rs/go       # PKG_CONFIG_PATH=<prefix>/lib/pkgconfig for another prefix
//
//	client, err := deepidv.NewClient(os.Getenv("DEEPIDV_API_KEY"), "")
//	if err != nil { ... }
//	defer client.Close()
//	job, err := client.Wait(ctx, "job_123")
//	switch {
//	case errors.Is(err, deepidv.ErrJobFailed): // job.Error says why
//	case errors.Is(err, context.Canceled):     // ctx was cancelled
//	case err != nil:                           // see the sentinels below
//	}
//
// GetJob, Wait and CreateAdverseMedia run the library's blocking calls with a cancellation handle;
// when ctx is done, a goroutine cancels it, which ends the call at once, a request in flight included
// (its connection is shut down). A ctx deadline also caps a wait's deadline.
// Watch (and ResumeWatch, Resume) drive the library's sans-IO poller instead, with net/http: every
// decision (when to poll, backoff, retries, what an answer means, the deadline) is the library's, Go
// only carries the requests, so a watch can report each status change and be saved between steps.
// Go's transport is set up like the library's: it trusts the system's roots plus the WithCACertFile
// and WithCACertPEM certificates, and goes through the proxy the library decided on (WithProxy, else DEEPIDV_PROXY,
// HTTPS_PROXY/HTTP_PROXY, ALL_PROXY, minus NO_PROXY; never for loopback), not Go's
// ProxyFromEnvironment. A certificate Go refuses ends a watch at once, with the message GetJob gives.
//
// Errors never depend on the C library's thread-local "last error" (goroutines move between OS threads):
// every call takes an error object out-parameter and frees it. Memory the library hands out is freed
// with the library's own _free functions; C.free is used only on strings this package allocated.
package deepidv

/*
#cgo pkg-config: deepidv
#include <stdlib.h>
#include "deepidv.h"

extern void deepidvGoLog(deepidv_log_level, char *, void *);

static deepidv_result set_go_logger(deepidv_client_options *o, void *user_data) {
	return deepidv_client_options_set_log_callback(o, (deepidv_log_callback)deepidvGoLog, user_data);
}
*/
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"
)

// Code is an outcome code, shared with the C library, the Rust crates and the CLI's exit codes.
type Code uint32

// The outcome codes.
const (
	CodeOK              Code = C.DEEPIDV_OK
	CodeJobFailed       Code = C.DEEPIDV_JOB_FAILED
	CodeInvalidArgument Code = C.DEEPIDV_INVALID_ARGUMENT
	CodeTimeout         Code = C.DEEPIDV_TIMEOUT
	CodeNotFound        Code = C.DEEPIDV_NOT_FOUND
	CodeUnauthorized    Code = C.DEEPIDV_UNAUTHORIZED
	CodeRejected        Code = C.DEEPIDV_REJECTED
	CodeUnavailable     Code = C.DEEPIDV_UNAVAILABLE
	CodeInvalidResponse Code = C.DEEPIDV_INVALID_RESPONSE
	CodeInternal        Code = C.DEEPIDV_INTERNAL
)

// String is the code's C name, like "DEEPIDV_NOT_FOUND".
func (c Code) String() string { return C.GoString(C.deepidv_result_name(C.uint32_t(c))) }

// Sentinel errors, one per outcome: test with errors.Is.
var (
	ErrJobFailed       = errors.New("deepidv: job failed")
	ErrInvalidArgument = errors.New("deepidv: invalid argument")
	ErrTimeout         = errors.New("deepidv: timeout")
	ErrNotFound        = errors.New("deepidv: not found")
	ErrUnauthorized    = errors.New("deepidv: unauthorized")
	ErrRejected        = errors.New("deepidv: rejected")
	ErrUnavailable     = errors.New("deepidv: unavailable")
	ErrInvalidResponse = errors.New("deepidv: invalid response")
	ErrInternal        = errors.New("deepidv: internal error")
)

func (c Code) sentinel() error {
	switch c {
	case CodeJobFailed:
		return ErrJobFailed
	case CodeInvalidArgument:
		return ErrInvalidArgument
	case CodeTimeout:
		return ErrTimeout
	case CodeNotFound:
		return ErrNotFound
	case CodeUnauthorized:
		return ErrUnauthorized
	case CodeRejected:
		return ErrRejected
	case CodeUnavailable:
		return ErrUnavailable
	case CodeInvalidResponse:
		return ErrInvalidResponse
	default:
		return ErrInternal
	}
}

// Error is a failure with its details. errors.Is matches it against the sentinel of its Code, and,
// when the call ended because its context was done, against context.Canceled or DeadlineExceeded.
type Error struct {
	Code       Code
	Message    string // one line, never contains the API key
	HTTPStatus int    // 0 if there was no HTTP answer
	RequestID  string // the server's x-request-id, if any
	Expired    bool   // a NOT_FOUND for a job that existed earlier in the wait
	ctxErr     error
}

func (e *Error) Error() string { return "deepidv: " + e.Message }

// Is reports whether target is the sentinel for e's code.
func (e *Error) Is(target error) bool { return target == e.Code.sentinel() }

// Unwrap returns the context's error when the call was cancelled by its context.
func (e *Error) Unwrap() error { return e.ctxErr }

func invalid(format string, args ...interface{}) error {
	return &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf(format, args...)}
}

// takeError converts and frees a library error object.
func takeError(rc C.deepidv_result, e *C.deepidv_error) error {
	if rc == C.DEEPIDV_OK {
		C.deepidv_error_free(e)
		return nil
	}
	err := &Error{Code: Code(rc), Message: Code(rc).String()}
	if e != nil {
		err.Message = C.GoString(C.deepidv_error_message(e))
		err.HTTPStatus = int(C.deepidv_error_http_status(e))
		if r := C.deepidv_error_request_id(e); r != nil {
			err.RequestID = C.GoString(r)
		}
		err.Expired = bool(C.deepidv_error_is_expired(e))
		C.deepidv_error_free(e)
	}
	return err
}

// cString copies a Go string for C; refuses NUL bytes (C would silently cut the string there).
// Invalid UTF-8 is passed on: the library refuses it with ErrInvalidArgument.
func cString(what, s string) (*C.char, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, invalid("%s contains a NUL byte", what)
	}
	return C.CString(s), nil
}

func free(p *C.char) {
	if p != nil {
		C.free(unsafe.Pointer(p)) // our own C.CString, never library memory
	}
}

// Version is the C library's version.
func Version() string { return C.GoString(C.deepidv_version()) }

// Status is a job's status.
type Status int

// Job statuses. StatusUnknown is a status this library does not know (not terminal); Job.StatusText has it.
const (
	StatusPending    Status = C.DEEPIDV_STATUS_PENDING
	StatusProcessing Status = C.DEEPIDV_STATUS_PROCESSING
	StatusReady      Status = C.DEEPIDV_STATUS_READY
	StatusFailed     Status = C.DEEPIDV_STATUS_FAILED
	StatusUnknown    Status = C.DEEPIDV_STATUS_UNKNOWN
)

func (s Status) String() string {
	switch s {
	case StatusPending:
		return "pending"
	case StatusProcessing:
		return "processing"
	case StatusReady:
		return "ready"
	case StatusFailed:
		return "failed"
	default:
		return "unknown"
	}
}

// Job is a snapshot of a job, copied out of the library.
type Job struct {
	ID         string
	Status     Status
	StatusText string          // as the server spelled it
	CreatedAt  time.Time       // zero if the server's value is not a time
	UpdatedAt  string          // RFC 3339, as sent; "" if absent
	Result     json.RawMessage // the result exactly as sent; nil unless ready
	Error      string          // the server's reason; "" unless failed
}

// takeJob copies and frees a library job (nil for nil).
func takeJob(j *C.deepidv_job) *Job {
	if j == nil {
		return nil
	}
	defer C.deepidv_job_free(j)
	job := &Job{
		ID:         C.GoString(C.deepidv_job_get_id(j)),
		Status:     Status(C.deepidv_job_get_status(j)),
		StatusText: C.GoString(C.deepidv_job_get_status_text(j)),
	}
	if ms := int64(C.deepidv_job_get_created_at_ms(j)); ms != 0 {
		job.CreatedAt = time.UnixMilli(ms)
	}
	if u := C.deepidv_job_get_updated_at(j); u != nil {
		job.UpdatedAt = C.GoString(u)
	}
	if r := C.deepidv_job_get_result_json(j); r != nil {
		job.Result = json.RawMessage(C.GoString(r))
	}
	if e := C.deepidv_job_get_error(j); e != nil {
		job.Error = C.GoString(e)
	}
	return job
}

// Option configures a Client. Every setting of the C library's client options has one.
type Option func(*options)

type options struct {
	requestTimeout, connectTimeout, pollInterval, maxPollInterval time.Duration
	waitTimeout, retryBackoff, maxRetryBackoff                    time.Duration
	maxRetries, waitMaxFailures                                   *uint32
	maxBodyBytes                                                  int64
	insecureHTTP                                                  bool
	caCerts                                                       []caCert
	proxy                                                         *string
	userAgentSuffix                                               *string
	logger                                                        func(level, msg string)
}

// WithCACertFile adds the CA certificates of a PEM file to the trusted roots (the operating system's
// store, or the bundled Mozilla roots where it is empty); repeatable. A missing, unreadable or non-PEM
// file makes NewClient fail with ErrInvalidArgument naming it, before any request. Watch trusts them
// too, added to the system's roots of Go's TLS (which has no bundled fallback).
func WithCACertFile(path string) Option {
	return func(o *options) { o.caCerts = append(o.caCerts, caCert{path: path}) }
}

// WithCACertPEM adds the CA certificates of this PEM text to the trusted roots, like WithCACertFile
// but from memory (a CA embedded in the program, or read from a secret store); repeatable. Text that
// holds no certificate makes NewClient fail with ErrInvalidArgument. Watch trusts them too.
func WithCACertPEM(pem []byte) Option {
	pem = append([]byte(nil), pem...) // the caller may reuse its slice
	return func(o *options) { o.caCerts = append(o.caCerts, caCert{pem: pem}) }
}

// caCert is one extra CA source: a file (path) or PEM text.
type caCert struct {
	path string
	pem  []byte
}

// WithProxy uses this proxy (http://[user:password@]host:port) whatever DEEPIDV_PROXY, HTTPS_PROXY,
// HTTP_PROXY, ALL_PROXY and NO_PROXY say; "" means no proxy at all. Loopback base URLs never use a
// proxy. A bad URL is ErrInvalidArgument (the password is never shown). Without it, the library
// decides from those variables when NewClient runs; Watch goes through the same proxy as GetJob and
// Wait.
func WithProxy(url string) Option { return func(o *options) { o.proxy = &url } }

// WithUserAgentSuffix names your application after the SDK in the User-Agent of every request,
// Watch included: "deepidv-rust/<version> (ffi) <s>", e.g. "myapp/1.2". s is 1 to 128 visible ASCII
// characters or spaces (spaces around it are dropped); anything else (a control character,
// non-ASCII, "", too long) makes NewClient fail with ErrInvalidArgument, before any request.
func WithUserAgentSuffix(s string) Option { return func(o *options) { o.userAgentSuffix = &s } }

// WithLogger sends every event of GetJob, Wait and CreateAdverseMedia to log, as one-line messages
// that never hold the API key: level "debug" for each answer (path, HTTP status, request id,
// latency), "info" for a status change, "warn" for a retry. log runs on the calling goroutine's
// thread, inside the call, possibly from several goroutines at once: keep it quick and safe for
// concurrent use. (Watch drives the sans-IO poller itself and does not log.)
func WithLogger(log func(level, msg string)) Option { return func(o *options) { o.logger = log } }

// WithRequestTimeout sets the per-request timeout, all included (default 30s).
func WithRequestTimeout(d time.Duration) Option { return func(o *options) { o.requestTimeout = d } }

// WithConnectTimeout sets the connect timeout (default 10s).
func WithConnectTimeout(d time.Duration) Option { return func(o *options) { o.connectTimeout = d } }

// WithPollInterval sets the first delay between polls (default 2s, growing ×1.5).
func WithPollInterval(d time.Duration) Option { return func(o *options) { o.pollInterval = d } }

// WithMaxPollInterval caps the delay between polls (default 5s; a cap below the poll interval never
// shortens it).
func WithMaxPollInterval(d time.Duration) Option { return func(o *options) { o.maxPollInterval = d } }

// WithWaitTimeout sets a wait's deadline (default 10 minutes).
func WithWaitTimeout(d time.Duration) Option { return func(o *options) { o.waitTimeout = d } }

// WithRetryBackoff sets the first backoff after a transient failure (default 500ms, doubling).
func WithRetryBackoff(d time.Duration) Option { return func(o *options) { o.retryBackoff = d } }

// WithMaxRetryBackoff caps the backoff after transient failures (default 30s).
func WithMaxRetryBackoff(d time.Duration) Option { return func(o *options) { o.maxRetryBackoff = d } }

// WithMaxRetries sets how often a single call (get, create) is retried on transient failures (default 3).
func WithMaxRetries(n uint32) Option { return func(o *options) { o.maxRetries = &n } }

// WithWaitMaxFailures sets after how many consecutive transient failures a wait gives up (default 5;
// must be > 0).
func WithWaitMaxFailures(n uint32) Option { return func(o *options) { o.waitMaxFailures = &n } }

// WithMaxBodyBytes sets the largest response body accepted (default 16 MiB; must be > 0).
func WithMaxBodyBytes(n int64) Option { return func(o *options) { o.maxBodyBytes = n } }

// WithInsecureHTTP allows plain http to hosts that are not loopback. Only for networks you trust.
func WithInsecureHTTP() Option { return func(o *options) { o.insecureHTTP = true } }

// The library's default, for reading bodies in Watch when WithMaxBodyBytes is not given.
const defaultMaxBodyBytes = 16 << 20

func millis(d time.Duration) C.uint64_t {
	if d <= 0 {
		return 0
	}
	ms := d.Milliseconds()
	if time.Duration(ms)*time.Millisecond < d {
		ms++
	}
	return C.uint64_t(ms)
}

// Client is safe for concurrent use. Close it when done.
type Client struct {
	mu    sync.RWMutex
	c     *C.deepidv_client
	opts  *C.deepidv_client_options // for the pollers of Watch and Resume
	log   unsafe.Pointer            // C memory holding the logger's handle, or nil
	key   string                    // for the pollers; never printed
	url   string
	proxy string       // the proxy the library decided on (credentials included; never printed), "" for none
	http  *http.Client // Watch's: the same roots and proxy as the library's
	max   int64        // the largest body Watch reads
}

// NewClient makes a client for apiKey; baseURL "" means https://api.deepidv.com (plain http only to
// loopback hosts, unless WithInsecureHTTP). The library checks every option: a bad one is
// ErrInvalidArgument.
func NewClient(apiKey, baseURL string, opts ...Option) (*Client, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	key, err := cString("API key", apiKey)
	if err != nil {
		return nil, err
	}
	defer free(key)
	var url *C.char
	if baseURL != "" {
		if url, err = cString("base URL", baseURL); err != nil {
			return nil, err
		}
		defer free(url)
	}
	copts := C.deepidv_client_options_new()
	set := func(rc C.deepidv_result, what string) {
		if rc != C.DEEPIDV_OK && err == nil {
			err = invalid("%s: %s", what, Code(rc))
		}
	}
	durations := []struct {
		d    time.Duration
		set  func(*C.deepidv_client_options, C.uint64_t) C.deepidv_result
		what string
	}{
		{o.requestTimeout, func(p *C.deepidv_client_options, v C.uint64_t) C.deepidv_result {
			return C.deepidv_client_options_set_request_timeout_ms(p, v)
		}, "request timeout"},
		{o.connectTimeout, func(p *C.deepidv_client_options, v C.uint64_t) C.deepidv_result {
			return C.deepidv_client_options_set_connect_timeout_ms(p, v)
		}, "connect timeout"},
		{o.pollInterval, func(p *C.deepidv_client_options, v C.uint64_t) C.deepidv_result {
			return C.deepidv_client_options_set_poll_interval_ms(p, v)
		}, "poll interval"},
		{o.maxPollInterval, func(p *C.deepidv_client_options, v C.uint64_t) C.deepidv_result {
			return C.deepidv_client_options_set_max_poll_interval_ms(p, v)
		}, "max poll interval"},
		{o.waitTimeout, func(p *C.deepidv_client_options, v C.uint64_t) C.deepidv_result {
			return C.deepidv_client_options_set_wait_timeout_ms(p, v)
		}, "wait timeout"},
		{o.retryBackoff, func(p *C.deepidv_client_options, v C.uint64_t) C.deepidv_result {
			return C.deepidv_client_options_set_retry_backoff_ms(p, v)
		}, "retry backoff"},
		{o.maxRetryBackoff, func(p *C.deepidv_client_options, v C.uint64_t) C.deepidv_result {
			return C.deepidv_client_options_set_max_retry_backoff_ms(p, v)
		}, "max retry backoff"},
	}
	for _, d := range durations {
		if d.d < 0 {
			set(C.DEEPIDV_INVALID_ARGUMENT, d.what+" is negative")
		} else if d.d > 0 {
			set(d.set(copts, millis(d.d)), d.what)
		}
	}
	if o.maxRetries != nil {
		set(C.deepidv_client_options_set_max_retries(copts, C.uint32_t(*o.maxRetries)), "max retries")
	}
	if o.waitMaxFailures != nil {
		set(C.deepidv_client_options_set_wait_max_failures(copts, C.uint32_t(*o.waitMaxFailures)), "wait max failures")
	}
	maxBody := int64(defaultMaxBodyBytes)
	if o.maxBodyBytes != 0 {
		if o.maxBodyBytes < 0 {
			set(C.DEEPIDV_INVALID_ARGUMENT, "max body bytes is negative")
		} else {
			set(C.deepidv_client_options_set_max_body_bytes(copts, C.uint64_t(o.maxBodyBytes)), "max body bytes")
			maxBody = o.maxBodyBytes
		}
	}
	if o.insecureHTTP {
		set(C.deepidv_client_options_set_allow_insecure_http(copts, true), "insecure http")
	}
	var logHandle unsafe.Pointer
	if o.logger != nil {
		logHandle = registerLogger(o.logger)
		set(C.set_go_logger(copts, logHandle), "logger")
	}
	for _, ca := range o.caCerts {
		if ca.pem != nil {
			if p, perr := cString("CA PEM", string(ca.pem)); perr != nil {
				set(C.DEEPIDV_INVALID_ARGUMENT, "CA PEM")
			} else {
				set(C.deepidv_client_options_set_ca_pem(copts, p), "CA PEM")
				free(p)
			}
		} else if p, perr := cString("CA file", ca.path); perr != nil {
			set(C.DEEPIDV_INVALID_ARGUMENT, "CA file")
		} else {
			set(C.deepidv_client_options_set_ca_file(copts, p), "CA file")
			free(p)
		}
	}
	if o.proxy != nil {
		if p, perr := cString("proxy", *o.proxy); perr != nil {
			set(C.DEEPIDV_INVALID_ARGUMENT, "proxy")
		} else {
			set(C.deepidv_client_options_set_proxy(copts, p), "proxy")
			free(p)
		}
	}
	if o.userAgentSuffix != nil {
		if p, perr := cString("user-agent suffix", *o.userAgentSuffix); perr != nil {
			set(C.DEEPIDV_INVALID_ARGUMENT, "user-agent suffix")
		} else {
			set(C.deepidv_client_options_set_user_agent_suffix(copts, p), "user-agent suffix")
			free(p)
		}
	}
	if err != nil {
		C.deepidv_client_options_free(copts)
		unregisterLogger(logHandle)
		return nil, err
	}
	var c *C.deepidv_client
	var cerr *C.deepidv_error
	rc := C.deepidv_client_new_with_options(key, url, copts, &c, &cerr)
	if err := takeError(rc, cerr); err != nil {
		C.deepidv_client_options_free(copts)
		unregisterLogger(logHandle)
		return nil, err
	}
	connect := o.connectTimeout
	if connect <= 0 {
		connect = 10 * time.Second
	}
	var proxy string // the library's decision, for Watch: Go does not decide it again
	if p := C.deepidv_client_get_proxy(c); p != nil {
		proxy = C.GoString(p)
	}
	hc, err := newHTTPClient(connect, o.caCerts, proxy)
	if err != nil {
		C.deepidv_client_free(c)
		C.deepidv_client_options_free(copts)
		unregisterLogger(logHandle)
		return nil, err
	}
	return &Client{c: c, opts: copts, log: logHandle, key: apiKey, url: baseURL, proxy: proxy, http: hc, max: maxBody}, nil
}

// Close frees the client, after the calls in progress return. Closing twice is fine. Watches
// already started keep working until their own Close.
func (cl *Client) Close() error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	C.deepidv_client_free(cl.c)
	C.deepidv_client_options_free(cl.opts)
	unregisterLogger(cl.log)
	cl.c, cl.opts, cl.log = nil, nil, nil
	cl.http.CloseIdleConnections()
	return nil
}

// call runs a blocking library call with a cancellation handle tied to ctx.
func (cl *Client) call(ctx context.Context, f func(c *C.deepidv_client, cancel *C.deepidv_cancel, err **C.deepidv_error) C.deepidv_result) error {
	if err := ctx.Err(); err != nil {
		return &Error{Code: CodeTimeout, Message: "cancelled before the call: " + err.Error(), ctxErr: err}
	}
	cl.mu.RLock()
	defer cl.mu.RUnlock()
	if cl.c == nil {
		return invalid("the client is closed")
	}
	cancel := C.deepidv_cancel_new()
	stop, watcher := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watcher)
		select {
		case <-ctx.Done():
			C.deepidv_cancel_cancel(cancel)
		case <-stop:
		}
	}()
	var cerr *C.deepidv_error
	rc := f(cl.c, cancel, &cerr)
	close(stop)
	<-watcher // the handle is not used any more: free it
	C.deepidv_cancel_free(cancel)
	err := takeError(rc, cerr)
	var e *Error
	if errors.As(err, &e) && e.Code == CodeTimeout && ctx.Err() != nil {
		e.ctxErr = ctx.Err()
	}
	return err
}

func jobID(id string) (*C.char, error) {
	if !utf8.ValidString(id) {
		// let the library say it, so Go and C agree on the message
		return C.CString(id), nil
	}
	return cString("job id", id)
}

// GetJob fetches one snapshot of the job (retried on transient failures). A failed job is not an error here.
func (cl *Client) GetJob(ctx context.Context, id string) (*Job, error) {
	cid, err := jobID(id)
	if err != nil {
		return nil, err
	}
	defer free(cid)
	var job *C.deepidv_job
	err = cl.call(ctx, func(c *C.deepidv_client, cancel *C.deepidv_cancel, e **C.deepidv_error) C.deepidv_result {
		return C.deepidv_client_get_job_ex(c, cid, cancel, &job, e)
	})
	return takeJob(job), err
}

// Wait polls the job until it is ready (nil error) or failed (ErrJobFailed, with the failed job), or the
// wait's deadline (ErrTimeout) or ctx (ErrTimeout wrapping ctx.Err()) ends it. A ctx deadline earlier
// than the client's wait timeout becomes the wait's deadline.
func (cl *Client) Wait(ctx context.Context, id string) (*Job, error) {
	cid, err := jobID(id)
	if err != nil {
		return nil, err
	}
	defer free(cid)
	var timeout C.uint64_t // 0: the client's wait timeout
	deadline, hasDeadline := ctx.Deadline()
	if hasDeadline {
		if timeout = millis(time.Until(deadline)); timeout == 0 {
			timeout = 1
		}
	}
	var job *C.deepidv_job
	err = cl.call(ctx, func(c *C.deepidv_client, cancel *C.deepidv_cancel, e **C.deepidv_error) C.deepidv_result {
		return C.deepidv_client_wait_job_ex(c, cid, timeout, cancel, &job, e)
	})
	// The wait's deadline was ctx's (rounded down to a millisecond, on the library's
	// clock), so its timeout is ctx's deadline even if ctx's own timer has not fired yet.
	var e *Error
	if hasDeadline && errors.As(err, &e) && e.Code == CodeTimeout && e.ctxErr == nil {
		e.ctxErr = context.DeadlineExceeded
	}
	return takeJob(job), err
}

// AdverseMediaRequest is the person to screen. Country (two letters) is optional.
type AdverseMediaRequest struct {
	FirstName, LastName, Email, DateOfBirth, Country string
}

// CreateAdverseMedia starts a screening and returns its job id. With idempotencyKey "" a random key is
// made; retries of this call reuse it, so a retry never starts a second job. When ctx is done the call
// ends at once, the request in flight included; the server may have started the job by then, so pass
// your own idempotencyKey if you may cancel: creating again with it gets that job, not a second one.
func (cl *Client) CreateAdverseMedia(ctx context.Context, r AdverseMediaRequest, idempotencyKey string) (string, error) {
	fields := []string{r.FirstName, r.LastName, r.Email, r.DateOfBirth, r.Country, idempotencyKey}
	names := []string{"first name", "last name", "email", "date of birth", "country", "idempotency key"}
	cs := make([]*C.char, len(fields))
	defer func() {
		for _, p := range cs {
			free(p)
		}
	}()
	for i, f := range fields {
		if i >= 4 && f == "" {
			continue // optional: NULL
		}
		p, err := cString(names[i], f)
		if err != nil {
			return "", err
		}
		cs[i] = p
	}
	var out *C.char
	err := cl.call(ctx, func(c *C.deepidv_client, cancel *C.deepidv_cancel, e **C.deepidv_error) C.deepidv_result {
		return C.deepidv_client_create_adverse_media_ex(c, cs[0], cs[1], cs[2], cs[3], cs[4], cs[5], cancel, &out, e)
	})
	if err != nil {
		return "", err
	}
	defer C.deepidv_string_free(out)
	return C.GoString(out), nil
}
