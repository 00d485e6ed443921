package deepidv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const sandboxKey = "sk_test_deepidv_sandbox"

var (
	mockURL string // the plain simulator
	mockBin string
	// A TLS simulator (--tls-self-signed): https://localhost:PORT, and the CA made at its start-up.
	tlsURL, tlsCA string
)

// startMock starts the simulator with these flags and returns it with the URL it listens on (its first
// line); it dies with this process. Stop it with Process.Kill and Wait.
func startMock(args ...string) (*exec.Cmd, string, error) {
	cmd := exec.Command(mockBin, args...)
	cmd.Stderr = os.Stderr
	dieWithUs(cmd) // a test that panics must not leave the simulator holding go test's output open
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("cannot start the simulator %s: %v (build it: cargo build -p deepidv-mock)", mockBin, err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on ") {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, "", fmt.Errorf("simulator said %q (%v)", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return cmd, strings.TrimSpace(strings.TrimPrefix(line, "listening on ")), nil
}

// TestMain starts the simulators: DEEPIDV_MOCK_BIN, or target/debug/deepidv-mock of this repository.
func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	mockBin = os.Getenv("DEEPIDV_MOCK_BIN")
	if mockBin == "" {
		mockBin = filepath.Join("..", "target", "debug", "deepidv-mock")
	}
	// Screenings stay pending, then processing, for 300ms each: long enough for a watch polling every
	// 20-40ms to see both, even on a loaded machine (example_test.go prints them).
	cmd, url, err := startMock("--addr", "127.0.0.1:0", "--pending", "300ms", "--processing", "300ms")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	mockURL = url
	pki, err := os.MkdirTemp("", "deepidv-go-pki-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(pki)
	tlsCmd, url, err := startMock("--addr", "127.0.0.1:0", "--tls-self-signed", pki)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer func() { _ = tlsCmd.Process.Kill(); _ = tlsCmd.Wait() }()
	tlsURL, tlsCA = url, filepath.Join(pki, "ca.pem")
	// The examples read these, as a program would.
	os.Setenv("DEEPIDV_BASE_URL", mockURL)
	os.Setenv("DEEPIDV_API_KEY", sandboxKey)
	return m.Run()
}

func admin(t *testing.T, method, path, body string, want int) []byte {
	t.Helper()
	req, err := http.NewRequest(method, mockURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return b
}

// newJob makes a job on the simulator: outcome `"ready"` or `{"failed":"..."}`.
func newJob(t *testing.T, outcome string, pending time.Duration) string {
	t.Helper()
	return newJobPhases(t, outcome, pending, 0)
}

// newJobPhases makes a job that is pending, then processing, for these times.
func newJobPhases(t *testing.T, outcome string, pending, processing time.Duration) string {
	t.Helper()
	b := admin(t, "POST", "/__mock/jobs",
		fmt.Sprintf(`{"outcome":%s,"pendingMs":%d,"processingMs":%d}`, outcome, pending.Milliseconds(), processing.Milliseconds()), 201)
	var v struct{ JobID string }
	if err := json.Unmarshal(b, &v); err != nil || v.JobID == "" {
		t.Fatalf("bad answer %s", b)
	}
	return v.JobID
}

func fault(t *testing.T, job, f string, times int) {
	t.Helper()
	admin(t, "POST", "/__mock/faults", fmt.Sprintf(`{"scope":{"job":%q},"fault":%s,"times":%d}`, job, f, times), 204)
}

func fastClient(t *testing.T, key string) *Client {
	t.Helper()
	c, err := NewClient(key, mockURL,
		WithPollInterval(20*time.Millisecond), WithMaxPollInterval(40*time.Millisecond),
		WithRetryBackoff(5*time.Millisecond), WithMaxRetries(2), WithRequestTimeout(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestVersionAndCodes(t *testing.T) {
	if Version() == "" {
		t.Fatal("no version")
	}
	if CodeNotFound != 4 || CodeInternal != 9 || CodeNotFound.String() != "DEEPIDV_NOT_FOUND" {
		t.Fatalf("codes: %d %d %s", CodeNotFound, CodeInternal, CodeNotFound)
	}
}

func TestGetAndWaitReady(t *testing.T) {
	c := fastClient(t, sandboxKey)
	id := newJob(t, `"ready"`, 150*time.Millisecond)
	job, err := c.GetJob(context.Background(), id)
	if err != nil || job.Status != StatusPending || job.Result != nil {
		t.Fatalf("get: %+v %v", job, err)
	}
	job, err = c.Wait(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if job.ID != id || job.Status != StatusReady || job.StatusText != "ready" || job.Error != "" {
		t.Fatalf("job: %+v", job)
	}
	var result struct {
		RiskLevel string `json:"riskLevel"`
		RiskScore int    `json:"riskScore"`
	}
	if err := json.Unmarshal(job.Result, &result); err != nil || result.RiskLevel == "" {
		t.Fatalf("result %s: %v", job.Result, err)
	}
	if job.CreatedAt.Before(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)) || job.UpdatedAt == "" {
		t.Fatalf("times: %v %q", job.CreatedAt, job.UpdatedAt)
	}
}

func TestWaitFailedReturnsTheJob(t *testing.T) {
	c := fastClient(t, sandboxKey)
	id := newJob(t, `{"failed":"document unreadable"}`, 30*time.Millisecond)
	job, err := c.Wait(context.Background(), id)
	if !errors.Is(err, ErrJobFailed) {
		t.Fatalf("want ErrJobFailed, got %v", err)
	}
	if job == nil || job.Status != StatusFailed || job.Error != "document unreadable" {
		t.Fatalf("job: %+v", job)
	}
	if errors.Is(err, ErrNotFound) {
		t.Fatal("matches only its own sentinel")
	}
}

func TestEveryErrorIsItsSentinel(t *testing.T) {
	c := fastClient(t, sandboxKey)
	ctx := context.Background()
	id := newJob(t, `"ready"`, 0)

	_, err := c.GetJob(ctx, "job_nope")
	var e *Error
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &e) || e.HTTPStatus != 404 || e.RequestID == "" {
		t.Fatalf("not found: %#v", err)
	}

	bad := fastClient(t, "sk_test_not_the_key_42")
	_, err = bad.GetJob(ctx, id)
	if !errors.Is(err, ErrUnauthorized) || strings.Contains(err.Error(), "not_the_key") {
		t.Fatalf("unauthorized: %v", err)
	}

	fault(t, id, `{"status":400}`, 1)
	if _, err = c.GetJob(ctx, id); !errors.Is(err, ErrRejected) {
		t.Fatalf("rejected: %v", err)
	}
	fault(t, id, `{"status":503,"body":"html"}`, 3)
	if _, err = c.GetJob(ctx, id); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("unavailable: %v", err)
	}
	fault(t, id, `"malformed"`, 1)
	if _, err = c.GetJob(ctx, id); !errors.Is(err, ErrInvalidResponse) {
		t.Fatalf("invalid response: %v", err)
	}
	for _, badID := range []string{"", "../x", "a/b", "nul\x00byte", "\xff\xfe"} {
		if _, err = c.GetJob(ctx, badID); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("id %q: %v", badID, err)
		}
	}
	slow := newJob(t, `"ready"`, time.Minute)
	c2, err := NewClient(sandboxKey, mockURL, WithWaitTimeout(150*time.Millisecond), WithPollInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err = c2.Wait(ctx, slow); !errors.Is(err, ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout: %v", err)
	}
}

func TestNewClientRefusesBadArguments(t *testing.T) {
	for _, tc := range []struct{ key, url string }{
		{"", mockURL},
		{"sk_test_x", "http://example.com"},
		{"sk_test_x", "not a url"},
		{"sk\x00x", mockURL},
		{"sk_test_x", "\xff"},
	} {
		c, err := NewClient(tc.key, tc.url)
		if !errors.Is(err, ErrInvalidArgument) || c != nil {
			t.Fatalf("%q %q: %v", tc.key, tc.url, err)
		}
	}
	c, err := NewClient("sk_test_x", "http://example.com", WithInsecureHTTP())
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	_ = c.Close() // twice is fine
	if _, err := c.GetJob(context.Background(), "job_1"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("after close: %v", err)
	}
}

func TestContextCancelStopsTheWait(t *testing.T) {
	c, err := NewClient(sandboxKey, mockURL, WithPollInterval(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := newJob(t, `"ready"`, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	job, err := c.Wait(ctx, id)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrTimeout) || job != nil {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("cancel took %v", d)
	}
	if _, err := c.GetJob(ctx, id); !errors.Is(err, context.Canceled) {
		t.Fatalf("done ctx: %v", err)
	}
}

func TestContextCancelInterruptsARequestInFlight(t *testing.T) {
	c, err := NewClient(sandboxKey, mockURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := newJob(t, `"ready"`, time.Minute)
	fault(t, id, `{"delayMs":5000}`, 1) // the first poll's answer comes after 5 s
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(150*time.Millisecond, cancel)
	start := time.Now()
	_, err = c.Wait(ctx, id)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("the request in flight was not interrupted: %v", d)
	}
	// the client goes on with a new connection
	if job, err := c.Wait(context.Background(), newJob(t, `"ready"`, 0)); err != nil || job.Status != StatusReady {
		t.Fatalf("after the cancel: %v %v", job, err)
	}
}

func TestContextCancelInterruptsACreation(t *testing.T) {
	c, err := NewClient(sandboxKey, mockURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	admin(t, "POST", "/__mock/faults", `{"scope":"all","fault":{"delayMs":5000},"times":1}`, 204)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(150*time.Millisecond, cancel)
	r := AdverseMediaRequest{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com", DateOfBirth: "1815-12-10"}
	start := time.Now()
	id, err := c.CreateAdverseMedia(ctx, r, "go-cancelled-create-0001")
	if !errors.Is(err, context.Canceled) || id != "" {
		t.Fatalf("want context.Canceled, got %q %v", id, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("the creation in flight was not interrupted: %v", d)
	}
	// the same key gets the job
	id, err = c.CreateAdverseMedia(context.Background(), r, "go-cancelled-create-0001")
	if err != nil || !strings.HasPrefix(id, "job_") {
		t.Fatalf("created again: %q %v", id, err)
	}
}

func TestContextDeadlineBoundsTheWait(t *testing.T) {
	c := fastClient(t, sandboxKey)
	id := newJob(t, `"ready"`, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Wait(ctx, id)
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want DeadlineExceeded, got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("deadline took %v", d)
	}
}

func TestCreateAdverseMedia(t *testing.T) {
	c := fastClient(t, sandboxKey)
	ctx := context.Background()
	req := AdverseMediaRequest{FirstName: "Alan", LastName: "Clean", Email: "alan@example.com", DateOfBirth: "1912-06-23", Country: "gb"}
	a, err := c.CreateAdverseMedia(ctx, req, "go-idem-1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.CreateAdverseMedia(ctx, req, "go-idem-1")
	if err != nil || a != b {
		t.Fatalf("replay: %q %q %v", a, b, err)
	}
	fresh, err := c.CreateAdverseMedia(ctx, req, "")
	if err != nil || fresh == a {
		t.Fatalf("fresh: %q %v", fresh, err)
	}
	job, err := c.Wait(ctx, a)
	if err != nil || !bytes.Contains(job.Result, []byte(`"riskLevel":"LOW"`)) {
		t.Fatalf("%+v %v", job, err)
	}
	req.Email = "not-an-email"
	if _, err := c.CreateAdverseMedia(ctx, req, ""); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad email: %v", err)
	}
	req.LastName = "Fail"
	req.Email = "x@example.com"
	id, err := c.CreateAdverseMedia(ctx, req, "")
	if err != nil {
		t.Fatal(err)
	}
	if job, err := c.Wait(ctx, id); !errors.Is(err, ErrJobFailed) || job == nil || job.Error == "" {
		t.Fatalf("fail: %+v %v", job, err)
	}
}

func TestOneClientManyGoroutines(t *testing.T) {
	c := fastClient(t, sandboxKey)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id := newJob(t, `"ready"`, time.Duration(10*i)*time.Millisecond)
			job, err := c.Wait(context.Background(), id)
			if err != nil || job.ID != id {
				errs <- fmt.Errorf("wait %d: %v", i, err)
				return
			}
			// errors come back with this call's own message, whatever OS thread ran it
			bad := fmt.Sprintf("bad/id_%d", i)
			if _, err := c.GetJob(context.Background(), bad); err == nil || !strings.Contains(err.Error(), bad) {
				errs <- fmt.Errorf("error of goroutine %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCloseWaitsForCallsInProgress(t *testing.T) {
	c, err := NewClient(sandboxKey, mockURL, WithPollInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	id := newJob(t, `"ready"`, 200*time.Millisecond)
	done := make(chan error)
	go func() { _, err := c.Wait(context.Background(), id); done <- err }()
	time.Sleep(50 * time.Millisecond)
	_ = c.Close() // blocks until the wait returns; must not free the client under it
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWithLoggerSeesAnswersRetriesAndStatusesWithoutTheKey(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	c, err := NewClient(sandboxKey, mockURL,
		WithPollInterval(20*time.Millisecond), WithMaxPollInterval(40*time.Millisecond),
		WithRetryBackoff(5*time.Millisecond), WithRequestTimeout(3*time.Second),
		WithLogger(func(level, msg string) {
			mu.Lock()
			lines = append(lines, level+" "+msg)
			mu.Unlock()
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := newJob(t, `"ready"`, 0)
	fault(t, id, `{"status":503}`, 1)
	fault(t, id, fmt.Sprintf(`{"unknownStatus":%q}`, sandboxKey), 1)
	if _, err := c.Wait(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	count := map[string]int{}
	for _, l := range lines {
		if strings.Contains(l, sandboxKey) {
			t.Errorf("key in %q", l)
		}
		count[strings.SplitN(l, " ", 2)[0]]++
	}
	if count["debug"] != 3 || count["warn"] != 1 || count["info"] != 2 {
		t.Fatalf("levels %v in %q", count, lines)
	}
	if !strings.HasPrefix(lines[0], "debug GET /v1/async-jobs/"+id+" -> HTTP 503 in ") ||
		!strings.HasPrefix(lines[1], "warn retry after 1 failure in ") {
		t.Fatalf("lines %q", lines)
	}
}

func TestNetworkOptionsAreCheckedBeforeAnyRequest(t *testing.T) {
	c, err := NewClient("sk_test_x", mockURL, WithProxy("socks5://alice:hunter2@proxy:1080"))
	if !errors.Is(err, ErrInvalidArgument) || c != nil {
		t.Fatalf("bad proxy: %v", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("the proxy password leaked: %v", err)
	}
	c, err = NewClient("sk_test_x", mockURL, WithCACertFile("/nonexistent/corp-ca.pem"))
	if !errors.Is(err, ErrInvalidArgument) || c != nil || !strings.Contains(err.Error(), "/nonexistent/corp-ca.pem") {
		t.Fatalf("missing CA file: %v", err)
	}
	// "" means no proxy at all: the simulator (loopback) is reached directly.
	c, err = NewClient("sk_test_x", mockURL, WithProxy(""))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
}

// userAgentOf is the User-Agent the simulator received with the requests for this job (GET /__mock/requests).
func userAgentOf(t *testing.T, job string) []string {
	t.Helper()
	var requests []struct {
		Method  string
		Path    string
		Headers [][2]string
	}
	b := admin(t, "GET", "/__mock/requests", "", 200)
	if err := json.Unmarshal(b, &requests); err != nil {
		t.Fatalf("recorded requests: %v", err)
	}
	var agents []string
	for _, r := range requests {
		if r.Path != "/v1/async-jobs/"+job {
			continue
		}
		for _, h := range r.Headers {
			if h[0] == "user-agent" {
				agents = append(agents, h[1])
			}
		}
	}
	return agents
}

func TestWithUserAgentSuffixReachesTheSimulator(t *testing.T) {
	want := "deepidv-rust/" + Version() + " (ffi) goapp/1.0 (linux)"
	c, err := NewClient(sandboxKey, mockURL, WithUserAgentSuffix(" goapp/1.0 (linux) "),
		WithPollInterval(20*time.Millisecond), WithMaxPollInterval(40*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := newJob(t, `"ready"`, 0)
	if _, err := c.GetJob(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if got := userAgentOf(t, id); len(got) != 1 || got[0] != want {
		t.Fatalf("GetJob sent User-Agent %q, want [%q]", got, want)
	}
	// Watch sends its requests with net/http, from the library's headers: the same User-Agent.
	id = newJob(t, `"ready"`, 0)
	w, err := c.Watch(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for w.Next() {
	}
	if _, err := w.Result(); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	got := userAgentOf(t, id)
	if len(got) == 0 {
		t.Fatal("Watch sent no request")
	}
	for _, ua := range got {
		if ua != want {
			t.Fatalf("Watch sent User-Agent %q, want %q", got, want)
		}
	}
	// Without the option: no suffix.
	plain := fastClient(t, sandboxKey)
	id = newJob(t, `"ready"`, 0)
	if _, err := plain.GetJob(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if got, want := userAgentOf(t, id), "deepidv-rust/"+Version()+" (ffi)"; len(got) != 1 || got[0] != want {
		t.Fatalf("no suffix: User-Agent %q, want [%q]", got, want)
	}
}

func TestWithUserAgentSuffixRefusesBadOnes(t *testing.T) {
	for _, bad := range []string{"goapp\r\nX-Evil: 1", "goapp\x1b[31m", "goapp\xff", "appé/1", "", "   ", "goapp\x00", strings.Repeat("a", 129)} {
		c, err := NewClient(sandboxKey, mockURL, WithUserAgentSuffix(bad))
		if !errors.Is(err, ErrInvalidArgument) || c != nil {
			t.Fatalf("%q: client %v, err %v", bad, c, err)
		}
		if !strings.Contains(err.Error(), "user-agent suffix") || strings.ContainsAny(err.Error(), "\r\n\x1b") {
			t.Fatalf("%q: err %q", bad, err)
		}
	}
	c, err := NewClient(sandboxKey, mockURL, WithUserAgentSuffix(strings.Repeat("a", 128)))
	if err != nil {
		t.Fatalf("128 characters: %v", err)
	}
	_ = c.Close()
}
