package deepidv

/*
#include <stdlib.h>
#include "deepidv.h"
*/
import "C"

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"
	"unsafe"
)

// newHTTPClient is the transport of Watch: Go's own, set up as the library sets up its own for GetJob
// and Wait, so a watch goes where they go and trusts what they trust: the client's connect timeout, the
// operating system's roots plus every WithCACertFile file and WithCACertPEM text, and the proxy the library decided on (proxy
// "" means direct; Go's ProxyFromEnvironment is never used: the library already read the environment).
// Redirects are handed to the library (which refuses them) rather than followed with the API key.
func newHTTPClient(connect time.Duration, caCerts []caCert, proxy string) (*http.Client, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext
	t.Proxy = nil
	if proxy != "" {
		u, err := url.Parse(proxy)
		if err != nil {
			return nil, invalid("the library's proxy URL does not parse in Go: %s", redactProxy(proxy))
		}
		t.Proxy = http.ProxyURL(u)
	}
	if len(caCerts) > 0 {
		roots, err := x509.SystemCertPool()
		if err != nil || roots == nil {
			roots = x509.NewCertPool() // as the library: the extra CAs alone are still trusted
		}
		for _, ca := range caCerts {
			if ca.pem != nil {
				if !roots.AppendCertsFromPEM(ca.pem) {
					return nil, invalid("CA PEM text: no PEM certificate in it")
				}
				continue
			}
			// NewClient's C option already read these; a file changed since is still refused.
			pem, err := os.ReadFile(ca.path)
			if err != nil {
				return nil, invalid("CA file %s: %v", ca.path, err)
			}
			if !roots.AppendCertsFromPEM(pem) {
				return nil, invalid("CA file %s: no PEM certificate in it", ca.path)
			}
		}
		t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// proxyCredentials is the "user:password" part of a proxy URL as the library spells it
// (scheme://[credentials@]host:port), or "".
func proxyCredentials(proxy string) string {
	_, rest, _ := strings.Cut(proxy, "://")
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		return rest[:at]
	}
	return ""
}

// redactProxy is a proxy URL as the library shows it: the credentials replaced by "***".
func redactProxy(proxy string) string {
	if creds := proxyCredentials(proxy); creds != "" {
		scheme, rest, _ := strings.Cut(proxy, "://")
		return scheme + "://***@" + rest[len(creds)+1:]
	}
	return proxy
}

// scrubProxy is text with the proxy's credentials hidden wherever they appear, as the library does.
func scrubProxy(text, proxy string) string {
	text = strings.ReplaceAll(text, proxy, redactProxy(proxy))
	if creds := proxyCredentials(proxy); creds != "" {
		text = strings.ReplaceAll(text, creds, "***")
		if _, password, ok := strings.Cut(creds, ":"); ok && password != "" {
			text = strings.ReplaceAll(text, password, "***")
		}
	}
	return text
}

// Watch follows a wait step by step: each status change of the job as it is observed (the first
// status seen, every change, the terminal one), then the outcome. It is saveable at any step (Save) and
// resumable later, in this process or another one (Client.ResumeWatch, Client.Resume).
//
//	w, err := client.Watch(ctx, id)
//	if err != nil { ... }
//	defer w.Close()
//	for w.Next() {
//		fmt.Println(w.Status())
//	}
//	job, err := w.Result() // as Client.Wait returns them
//
// It drives the library's sans-IO poller (deepidv_poller_*) with net/http: the library decides when to
// poll, how to back off and retry, what each answer means and when the deadline has passed; Go sends
// the requests it asks for and reports how they went. A Watch is not safe for concurrent use.
type Watch struct {
	ctx     context.Context
	http    *http.Client
	proxy   string // the library's proxy URL, credentials included; "" for none
	max     int64
	p       *C.deepidv_poller
	origin  time.Time // the poller's clock: monotonic milliseconds since origin
	status  Status
	started bool
	done    bool
	job     *Job
	err     error
}

// Watch starts watching job id. ctx bounds the whole watch: a ctx deadline earlier than the client's
// wait timeout becomes its deadline, and a done ctx ends it (Result then says ErrTimeout wrapping
// ctx.Err()). Close the watch when done with it.
func (cl *Client) Watch(ctx context.Context, id string) (*Watch, error) {
	cid, err := jobID(id)
	if err != nil {
		return nil, err
	}
	defer free(cid)
	var timeout C.uint64_t // 0: the client's wait timeout
	if deadline, ok := ctx.Deadline(); ok {
		if timeout = millis(time.Until(deadline)); timeout == 0 {
			timeout = 1
		}
	}
	var seed [8]byte
	_, _ = rand.Read(seed[:]) // jitter only: a zero seed is still a valid one
	return cl.newWatch(ctx, func(key, url *C.char, opts *C.deepidv_client_options, now C.uint64_t, p **C.deepidv_poller, e **C.deepidv_error) C.deepidv_result {
		return C.deepidv_poller_new_wait(key, url, cid, now, C.uint64_t(binary.LittleEndian.Uint64(seed[:])), timeout, opts, p, e)
	})
}

// ResumeWatch resumes a watch saved with Watch.Save, keeping its original deadline (time spent stopped
// counts; a wait whose deadline has passed ends in ErrTimeout without polling). A 404 for a job the saved
// watch had seen is reported as expired (Error.Expired). A state that is not a saved watch is
// ErrInvalidArgument.
func (cl *Client) ResumeWatch(ctx context.Context, state []byte) (*Watch, error) {
	if bytes.IndexByte(state, 0) >= 0 {
		return nil, invalid("the saved state contains a NUL byte")
	}
	cstate := C.CString(string(state))
	defer free(cstate)
	return cl.newWatch(ctx, func(key, url *C.char, opts *C.deepidv_client_options, now C.uint64_t, p **C.deepidv_poller, e **C.deepidv_error) C.deepidv_result {
		return C.deepidv_poller_resume(key, url, cstate, now, opts, p, e)
	})
}

// Resume resumes a wait saved with Watch.Save and waits for its outcome, as Client.Wait does.
func (cl *Client) Resume(ctx context.Context, state []byte) (*Job, error) {
	w, err := cl.ResumeWatch(ctx, state)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	for w.Next() {
	}
	return w.Result()
}

func (cl *Client) newWatch(ctx context.Context, create func(key, url *C.char, opts *C.deepidv_client_options, now C.uint64_t, p **C.deepidv_poller, e **C.deepidv_error) C.deepidv_result) (*Watch, error) {
	if err := ctx.Err(); err != nil {
		return nil, &Error{Code: CodeTimeout, Message: "cancelled before the call: " + err.Error(), ctxErr: err}
	}
	cl.mu.RLock()
	defer cl.mu.RUnlock()
	if cl.c == nil {
		return nil, invalid("the client is closed")
	}
	key := C.CString(cl.key) // NUL-free: NewClient checked it
	defer free(key)
	var url *C.char
	if cl.url != "" {
		url = C.CString(cl.url)
		defer free(url)
	}
	w := &Watch{ctx: ctx, http: cl.http, proxy: cl.proxy, max: cl.max, origin: time.Now(), status: StatusUnknown}
	var p *C.deepidv_poller // a local: cgo may not be handed a pointer into w, which holds Go pointers
	var cerr *C.deepidv_error
	if err := takeError(create(key, url, cl.opts, w.now(), &p, &cerr), cerr); err != nil {
		return nil, err
	}
	w.p = p
	runtime.SetFinalizer(w, (*Watch).Close) // a forgotten Close leaks nothing
	return w, nil
}

func (w *Watch) now() C.uint64_t { return C.uint64_t(time.Since(w.origin) / time.Millisecond) }

// Next waits for the next status change and reports whether there was one (Status has it). It returns
// false once the watch has ended: Result then says how.
func (w *Watch) Next() bool {
	for !w.done {
		if w.p == nil {
			w.finish(nil, invalid("the watch is closed"))
			break
		}
		if err := w.ctx.Err(); err != nil {
			w.finish(nil, &Error{Code: CodeTimeout, Message: "cancelled by the caller before the job finished", ctxErr: err})
			break
		}
		var a *C.deepidv_action
		if rc := C.deepidv_poller_poll(w.p, w.now(), &a); rc != C.DEEPIDV_OK {
			w.finish(nil, takeError(rc, nil))
			break
		}
		switch C.deepidv_action_get_kind(a) {
		case C.DEEPIDV_ACTION_SEND:
			w.send(a)
			if s := Status(C.deepidv_poller_last_status(w.p)); s != StatusUnknown && (s != w.status || !w.started) {
				w.status, w.started = s, true
				return true
			}
		case C.DEEPIDV_ACTION_WAIT:
			t := time.NewTimer(time.Duration(C.deepidv_action_get_wait_ms(a)) * time.Millisecond)
			select {
			case <-w.ctx.Done():
				t.Stop()
			case <-t.C:
			}
		default: // DONE
			var job *C.deepidv_job
			var cerr *C.deepidv_error
			rc := C.deepidv_poller_take_job(w.p, &job, &cerr)
			err := takeError(rc, cerr)
			var e *Error
			if _, hasDeadline := w.ctx.Deadline(); hasDeadline && errors.As(err, &e) && e.Code == CodeTimeout {
				e.ctxErr = context.DeadlineExceeded // the deadline was ctx's (see Client.Wait)
			}
			w.finish(takeJob(job), err)
		}
	}
	return false
}

func (w *Watch) finish(job *Job, err error) { w.done, w.job, w.err = true, job, err }

// Status is the job's status at the last change Next reported; StatusUnknown before the first.
func (w *Watch) Status() Status { return w.status }

// Result is the watch's outcome once Next has returned false, as Client.Wait returns it: the ready job
// and nil, the failed job and ErrJobFailed, or nil and the error that ended the watch. Before the end it
// is nil, nil.
func (w *Watch) Result() (*Job, error) { return w.job, w.err }

// Save is the watch's progress as an opaque blob (JSON; no secret in it: the API key is not), for
// Client.ResumeWatch or Client.Resume later. Any step is fine, also after the watch ended or its ctx
// was cancelled; a request in flight then is simply sent again by the resumed watch.
func (w *Watch) Save() ([]byte, error) {
	if w.p == nil {
		return nil, invalid("the watch is closed")
	}
	var out *C.char
	var cerr *C.deepidv_error
	if err := takeError(C.deepidv_poller_save(w.p, &out, &cerr), cerr); err != nil {
		return nil, err
	}
	defer C.deepidv_string_free(out)
	return []byte(C.GoString(out)), nil
}

// Close frees the watch. Closing twice is fine.
func (w *Watch) Close() error {
	C.deepidv_poller_free(w.p)
	w.p = nil
	runtime.SetFinalizer(w, nil)
	return nil
}

// send carries out a SEND action with net/http and feeds the outcome to the poller. When the watch's
// ctx is done meanwhile, nothing is fed: the request stays in flight (Save keeps working) and Next ends.
func (w *Watch) send(a *C.deepidv_action) {
	method := C.GoString(C.deepidv_action_get_method(a))
	target := C.GoString(C.deepidv_action_get_url(a))
	timeout := time.Duration(C.deepidv_action_get_timeout_ms(a)) * time.Millisecond
	var n C.size_t
	p := C.deepidv_action_get_body(a, &n)
	var body []byte
	if n > 0 {
		body = C.GoBytes(unsafe.Pointer(p), C.int(n))
	}
	ctx, cancel := context.WithTimeout(w.ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		w.transportError(C.DEEPIDV_TRANSPORT_OTHER, err)
		return
	}
	for i, count := C.size_t(0), C.deepidv_action_get_header_count(a); i < count; i++ {
		req.Header.Add(C.GoString(C.deepidv_action_get_header_name(a, i)), C.GoString(C.deepidv_action_get_header_value(a, i)))
	}
	resp, err := w.http.Do(req)
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(resp.Body, w.max+1)) // one byte more: the library refuses it
		resp.Body.Close()
	}
	if w.ctx.Err() != nil {
		return
	}
	if err != nil {
		w.transportError(transportKind(ctx, err), err)
		return
	}
	var names, values []*C.char
	defer func() {
		for i := range names {
			free(names[i])
			free(values[i])
		}
	}()
	for name, vs := range resp.Header {
		for _, v := range vs {
			if strings.IndexByte(v, 0) >= 0 {
				continue // cannot be passed to C; no header the library reads carries one
			}
			names = append(names, C.CString(strings.ToLower(name)))
			values = append(values, C.CString(v))
		}
	}
	var np, vp **C.char
	if len(names) > 0 {
		np, vp = &names[0], &values[0] // Go memory holding C pointers only: allowed by cgocheck=2
	}
	var bp *C.uint8_t
	if len(body) > 0 {
		bp = (*C.uint8_t)(unsafe.Pointer(&body[0]))
	}
	rc := C.deepidv_poller_handle_response(w.p, w.now(), C.uint16_t(resp.StatusCode), np, vp, C.size_t(len(names)), bp, C.size_t(len(body)))
	if rc != C.DEEPIDV_OK {
		w.finish(nil, takeError(rc, nil))
	}
}

func (w *Watch) transportError(kind C.uint32_t, err error) {
	text := err.Error()
	if w.proxy != "" { // as the library says it: through which proxy, never its credentials
		text = "through proxy " + redactProxy(w.proxy) + ": " + scrubProxy(text, w.proxy)
	}
	detail := C.CString(strings.ReplaceAll(text, "\x00", " "))
	defer free(detail)
	if rc := C.deepidv_poller_handle_transport_error(w.p, w.now(), kind, detail); rc != C.DEEPIDV_OK {
		w.finish(nil, takeError(rc, nil))
	}
}

// transportKind tells the library how a request failed below HTTP; the library decides what to do (a
// certificate failure ends the watch at once, with the message GetJob would give). Since Go 1.20 the
// handshake wraps the x509 errors in a *tls.CertificateVerificationError, which unwraps to them.
func transportKind(ctx context.Context, err error) C.uint32_t {
	var netErr net.Error
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var unknownCA x509.UnknownAuthorityError
	var invalidCert x509.CertificateInvalidError
	var noRoots x509.SystemRootsError
	var hostname x509.HostnameError
	var record tls.RecordHeaderError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return C.DEEPIDV_TRANSPORT_TIMEOUT
	case errors.As(err, &hostname):
		return C.DEEPIDV_TRANSPORT_HOSTNAME_MISMATCH
	case errors.As(err, &unknownCA), errors.As(err, &invalidCert), errors.As(err, &noRoots):
		return C.DEEPIDV_TRANSPORT_UNTRUSTED_CERTIFICATE
	case errors.As(err, &record):
		return C.DEEPIDV_TRANSPORT_OTHER
	case errors.As(err, &dnsErr), errors.As(err, &opErr) && (opErr.Op == "dial" || opErr.Op == "proxyconnect"):
		return C.DEEPIDV_TRANSPORT_CONNECT
	default:
		return C.DEEPIDV_TRANSPORT_IO
	}
}
