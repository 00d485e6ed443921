package deepidv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The trust and proxy settings reach Watch (Go's net/http) as they reach GetJob and Wait (the library's
// own HTTP): against a TLS simulator, with and without its CA, under another host name, and through a
// CONNECT proxy to a host name only the proxy can reach.

const missingJob = "job_not_there" // a 404 from the server proves the TLS handshake succeeded

// tlsTestClient is a client for url with fast retries, so a retried failure would still end quickly.
func tlsTestClient(t *testing.T, url string, opts ...Option) *Client {
	t.Helper()
	opts = append([]Option{
		WithPollInterval(20 * time.Millisecond), WithRetryBackoff(5 * time.Millisecond),
		WithMaxRetryBackoff(20 * time.Millisecond), WithMaxRetries(2), WithWaitMaxFailures(3),
		WithRequestTimeout(5 * time.Second), WithConnectTimeout(2 * time.Second),
	}, opts...)
	c, err := NewClient(sandboxKey, url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// outcomes runs GetJob, Wait and Watch of id on c: their errors, by name.
func outcomes(t *testing.T, c *Client, id string) map[string]error {
	t.Helper()
	ctx := context.Background()
	got := map[string]error{}
	_, got["GetJob"] = c.GetJob(ctx, id)
	_, got["Wait"] = c.Wait(ctx, id)
	w, err := c.Watch(ctx, id)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	_, _, got["Watch"] = watchAll(t, w)
	return got
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	var e *Error
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &e) || e.HTTPStatus != 404 {
		t.Errorf("%s: want ErrNotFound with HTTP 404 (the TLS handshake worked), got %v", what, err)
	}
}

// wantUnavailable: ErrUnavailable saying all of says, at once (the library gave up on nothing: no retry).
func wantUnavailable(t *testing.T, what string, err error, says ...string) {
	t.Helper()
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("%s: want ErrUnavailable, got %v", what, err)
		return
	}
	for _, s := range says {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%s: the message should say %q: %v", what, s, err)
		}
	}
	if strings.Contains(err.Error(), "gave up") {
		t.Errorf("%s: retried: %v", what, err)
	}
}

func TestTLSTrustedThroughWithCACertFile(t *testing.T) {
	c := tlsTestClient(t, tlsURL, WithCACertFile(tlsCA))
	for what, err := range outcomes(t, c, missingJob) {
		wantNotFound(t, what, err)
	}
	// Resume goes through the same transport as Watch.
	w, err := c.Watch(context.Background(), missingJob)
	if err != nil {
		t.Fatal(err)
	}
	state, err := w.Save()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Resume(context.Background(), state)
	wantNotFound(t, "Resume", err)
}

func TestTLSTrustedThroughWithCACertPEM(t *testing.T) {
	pem, err := os.ReadFile(tlsCA)
	if err != nil {
		t.Fatal(err)
	}
	c := tlsTestClient(t, tlsURL, WithCACertPEM(pem))
	for what, err := range outcomes(t, c, missingJob) {
		wantNotFound(t, what, err) // GetJob, Wait and Watch alike
	}
	// text with no certificate in it is refused before any request
	if _, err := NewClient(sandboxKey, tlsURL, WithCACertPEM([]byte("not a certificate"))); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad PEM text: %v", err)
	}
}

func TestTLSUntrustedIsNotRetried(t *testing.T) {
	c := tlsTestClient(t, tlsURL) // the simulator's CA is not among the system's roots
	for what, err := range outcomes(t, c, missingJob) {
		wantUnavailable(t, what, err, "certificate not trusted", "WithCACertFile")
	}
}

func TestTLSCertificateForAnotherHost(t *testing.T) {
	other := strings.Replace(tlsURL, "://localhost:", "://127.0.0.1:", 1)
	if other == tlsURL {
		t.Fatalf("the TLS simulator's URL should name localhost: %s", tlsURL)
	}
	c := tlsTestClient(t, other, WithCACertFile(tlsCA)) // trusted, but for localhost only
	for what, err := range outcomes(t, c, missingJob) {
		wantUnavailable(t, what, err, "certificate is for another host")
	}
}

// The kinds Go's errors map to (deepidv_transport_error's numbers: cgo is not allowed in tests), so the
// library says what to do.
func TestTransportKindOfGoErrors(t *testing.T) {
	ctx := context.Background()
	wrap := func(err error) error { return &url.Error{Op: "Get", URL: "https://x", Err: err} }
	cases := []struct {
		err  error
		want uint32
	}{
		{x509.UnknownAuthorityError{}, 4},                                            // UNTRUSTED_CERTIFICATE
		{x509.CertificateInvalidError{Reason: x509.Expired}, 4},                      // UNTRUSTED_CERTIFICATE
		{x509.SystemRootsError{}, 4},                                                 // UNTRUSTED_CERTIFICATE
		{x509.HostnameError{Host: "127.0.0.1"}, 5},                                   // HOSTNAME_MISMATCH
		{errors.New("connection reset"), 2},                                          // IO
		{&net.OpError{Op: "proxyconnect", Err: errors.New("connection refused")}, 0}, // CONNECT
	}
	for _, c := range cases {
		if got := uint32(transportKind(ctx, wrap(c.err))); got != c.want {
			t.Errorf("%T: kind %d, want %d", c.err, got, c.want)
		}
	}
}

// ---- a CONNECT proxy, and a server only it can reach ----------------------------------------------------

// connectProxy is a small CONNECT proxy: every tunnel goes to upstream, whatever its target, and is
// recorded with its Proxy-Authorization.
type connectProxy struct {
	upstream string
	srv      *http.Server
	addr     string

	mu      sync.Mutex
	tunnels []tunnel
	conns   []net.Conn
}

type tunnel struct{ target, auth string }

func startConnectProxy(t *testing.T, upstream string) *connectProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &connectProxy{upstream: upstream, addr: l.Addr().String()}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = p.srv.Serve(l) }()
	t.Cleanup(func() {
		_ = p.srv.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			_ = c.Close()
		}
	})
	return p
}

func (p *connectProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	p.mu.Lock()
	p.tunnels = append(p.tunnels, tunnel{target: r.Host, auth: r.Header.Get("Proxy-Authorization")})
	p.mu.Unlock()
	up, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	down, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		up.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, up, down)
	p.mu.Unlock()
	if _, err := down.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		up.Close()
		down.Close()
		return
	}
	go func() {
		// what the client sent after the CONNECT and the server has not read yet, then the rest
		if n := buf.Reader.Buffered(); n > 0 {
			b, _ := buf.Reader.Peek(n)
			_, _ = up.Write(b)
		}
		_, _ = io.Copy(up, down)
		_ = up.Close()
	}()
	go func() {
		_, _ = io.Copy(down, up)
		_ = down.Close()
	}()
}

// since returns the tunnels opened after the first n.
func (p *connectProxy) since(n int) []tunnel {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]tunnel(nil), p.tunnels[n:]...)
}

func (p *connectProxy) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.tunnels)
}

// writePKI makes a CA and a server certificate for host signed by it, written to dir as ca.pem,
// cert.pem and key.pem.
func writePKI(t *testing.T, dir, host string) (ca, cert, key string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTemplate := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "deepidv Go test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: host},
		DNSNames:              []string{host},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", leafDER),
		write("key.pem", "PRIVATE KEY", pkcs8)
}

// hiddenHost is a name that resolves nowhere: only the proxy reaches its server.
const hiddenHost = "api.deepidv.test"

// proxiedSimulator starts a simulator serving a certificate for hiddenHost and a CONNECT proxy in front
// of it: the base URL to use, the CA file, and the proxy.
func proxiedSimulator(t *testing.T) (string, string, *connectProxy) {
	t.Helper()
	ca, cert, key := writePKI(t, t.TempDir(), hiddenHost)
	cmd, u, err := startMock("--addr", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	parsed, err := url.Parse(u)
	if err != nil || parsed.Scheme != "https" {
		t.Fatalf("the simulator listens on %q (%v)", u, err)
	}
	return "https://" + hiddenHost + ":" + parsed.Port(), ca, startConnectProxy(t, parsed.Host)
}

func TestProxyIsTheLibrarysForWatchAndWait(t *testing.T) {
	base, ca, proxy := proxiedSimulator(t)
	target := strings.TrimPrefix(base, "https://")
	creds := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	withProxy := WithProxy("http://alice:s3cret@" + proxy.addr)
	// Each call on a client of its own: one new tunnel each, to the API host, with the credentials.
	calls := []struct {
		name string
		run  func(c *Client) error
	}{
		{"GetJob", func(c *Client) error { _, err := c.GetJob(context.Background(), missingJob); return err }},
		{"Wait", func(c *Client) error { _, err := c.Wait(context.Background(), missingJob); return err }},
		{"Watch", func(c *Client) error {
			w, err := c.Watch(context.Background(), missingJob)
			if err != nil {
				return err
			}
			_, _, err = watchAll(t, w)
			return err
		}},
	}
	for _, call := range calls {
		n := proxy.count()
		err := call.run(tlsTestClient(t, base, WithCACertFile(ca), withProxy))
		wantNotFound(t, call.name, err)
		got := proxy.since(n)
		if len(got) != 1 || got[0].target != target || got[0].auth != creds {
			t.Errorf("%s: want one tunnel to %s with the credentials, got %+v", call.name, target, got)
		}
	}

	// No WithProxy: the library's decision from DEEPIDV_PROXY, which Go's ProxyFromEnvironment does not
	// read. (The library reads the environment when the client is made.)
	t.Setenv("DEEPIDV_PROXY", "http://"+proxy.addr)
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	c := tlsTestClient(t, base, WithCACertFile(ca))
	n := proxy.count()
	for what, err := range outcomes(t, c, missingJob) {
		wantNotFound(t, what+" (DEEPIDV_PROXY)", err)
	}
	for _, tun := range proxy.since(n) {
		if tun.target != target || tun.auth != "" {
			t.Errorf("DEEPIDV_PROXY: tunnel %+v", tun)
		}
	}
	if got := len(proxy.since(n)); got < 2 { // the library's connection (kept alive) and Go's
		t.Errorf("DEEPIDV_PROXY: %d tunnels", got)
	}
}

func TestProxyFailureNamesTheProxyNotItsPassword(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close() // nothing listens there now
	c := tlsTestClient(t, "https://"+hiddenHost, WithProxy("http://alice:s3cret@"+dead))
	for what, err := range outcomes(t, c, missingJob) {
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: want ErrUnavailable, got %v", what, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "through proxy http://***@"+dead) || strings.Contains(msg, "s3cret") {
			t.Errorf("%s: the message should name the proxy without its password: %v", what, msg)
		}
	}
}
