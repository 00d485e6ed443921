package deepidv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// watchAll runs a watch to its end: the statuses it reported, and its result.
func watchAll(t *testing.T, w *Watch) ([]Status, *Job, error) {
	t.Helper()
	defer w.Close()
	var seen []Status
	for w.Next() {
		seen = append(seen, w.Status())
	}
	job, err := w.Result()
	return seen, job, err
}

func statuses(ss []Status) string {
	var b strings.Builder
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s.String())
	}
	return b.String()
}

func TestWatchReportsEachStatusOnce(t *testing.T) {
	c := fastClient(t, sandboxKey)
	id := newJobPhases(t, `"ready"`, 250*time.Millisecond, 250*time.Millisecond)
	w, err := c.Watch(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if w.Status() != StatusUnknown {
		t.Fatalf("status before the first answer: %v", w.Status())
	}
	seen, job, err := watchAll(t, w)
	if got := statuses(seen); got != "pending processing ready" || err != nil {
		t.Fatalf("statuses %q, err %v", got, err)
	}
	if job.ID != id || job.Status != StatusReady || !bytes.Contains(job.Result, []byte(`"riskLevel"`)) {
		t.Fatalf("job %+v", job)
	}
	if w.Next() {
		t.Fatal("Next after the end")
	}
}

func TestWatchFailedJobEndsWithErrJobFailed(t *testing.T) {
	c := fastClient(t, sandboxKey)
	id := newJob(t, `{"failed":"document unreadable"}`, 50*time.Millisecond)
	w, err := c.Watch(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	seen, job, err := watchAll(t, w)
	if got := statuses(seen); !strings.HasSuffix(got, "failed") || !errors.Is(err, ErrJobFailed) {
		t.Fatalf("statuses %q, err %v", got, err)
	}
	if job == nil || job.Error != "document unreadable" {
		t.Fatalf("job %+v", job)
	}
}

func TestWatchErrorsAreTheLibrarys(t *testing.T) {
	c := fastClient(t, sandboxKey)
	ctx := context.Background()
	w, err := c.Watch(ctx, "job_nope")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = watchAll(t, w)
	var e *Error
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &e) || e.HTTPStatus != 404 || e.RequestID == "" || e.Expired {
		t.Fatalf("not found: %#v", err)
	}
	if _, err := c.Watch(ctx, "../x"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad id: %v", err)
	}
	// Two 503s are retried by the library's policy; the watch still ends ready.
	id := newJob(t, `"ready"`, 0)
	fault(t, id, `{"status":503}`, 2)
	w, err = c.Watch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, job, err := watchAll(t, w); err != nil || job.Status != StatusReady {
		t.Fatalf("after 503s: %+v %v", job, err)
	}
	// A body over WithMaxBodyBytes is refused through Go's transport as through the library's.
	small, err := NewClient(sandboxKey, mockURL, WithMaxBodyBytes(64), WithPollInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	if _, err := small.GetJob(ctx, id); !errors.Is(err, ErrInvalidResponse) {
		t.Fatalf("get, 64-byte limit: %v", err)
	}
	w, err = small.Watch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := watchAll(t, w); !errors.Is(err, ErrInvalidResponse) {
		t.Fatalf("watch, 64-byte limit: %v", err)
	}
}

func TestWatchConnectFailuresEndUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close() // nothing listens there now: every connect is refused
	c, err := NewClient(sandboxKey, dead, WithRetryBackoff(5*time.Millisecond), WithWaitMaxFailures(2))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w, err := c.Watch(context.Background(), "job_1")
	if err != nil {
		t.Fatal(err)
	}
	seen, job, err := watchAll(t, w)
	if !errors.Is(err, ErrUnavailable) || job != nil || len(seen) != 0 {
		t.Fatalf("want ErrUnavailable, got %v %v %v", seen, job, err)
	}
	if !strings.Contains(err.Error(), "connect") && !strings.Contains(err.Error(), "refused") {
		t.Fatalf("the message should say the connect failed: %v", err)
	}
}

func TestWatchContextCancelAndDeadline(t *testing.T) {
	c, err := NewClient(sandboxKey, mockURL, WithPollInterval(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := newJob(t, `"ready"`, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	w, err := c.Watch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if !w.Next() || w.Status() != StatusPending {
		t.Fatalf("first status: %v", w.Status())
	}
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	if w.Next() {
		t.Fatal("a status after the cancel")
	}
	if _, err := w.Result(); !errors.Is(err, context.Canceled) || !errors.Is(err, ErrTimeout) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("cancel took %v", d)
	}
	if _, err := c.Watch(ctx, id); !errors.Is(err, context.Canceled) {
		t.Fatalf("done ctx: %v", err)
	}

	fast := fastClient(t, sandboxKey)
	dctx, dcancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer dcancel()
	w2, err := fast.Watch(dctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := watchAll(t, w2); !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want DeadlineExceeded, got %v", err)
	}
}

func TestSaveAndResumeInAnotherClient(t *testing.T) {
	c := fastClient(t, sandboxKey)
	id := newJobPhases(t, `"ready"`, 300*time.Millisecond, 0)
	ctx, cancel := context.WithCancel(context.Background())
	w, err := c.Watch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !w.Next() || w.Status() != StatusPending {
		t.Fatalf("first status: %v", w.Status())
	}
	cancel() // the process stops here...
	if w.Next() {
		t.Fatal("a status after the cancel")
	}
	state, err := w.Save() // ...and saves its progress, even after the cancel
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := w.Save(); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("save after close: %v", err)
	}
	if bytes.Contains(state, []byte(sandboxKey)) || !bytes.Contains(state, []byte(id)) || !json.Valid(state) {
		t.Fatalf("state: %s", state)
	}

	other := fastClient(t, sandboxKey) // another client, as another process would make
	job, err := other.Resume(context.Background(), state)
	if err != nil || job.ID != id || job.Status != StatusReady {
		t.Fatalf("resumed: %+v %v", job, err)
	}
	w2, err := other.ResumeWatch(context.Background(), state)
	if err != nil {
		t.Fatal(err)
	}
	if seen, job, err := watchAll(t, w2); statuses(seen) != "ready" || err != nil || job.ID != id {
		t.Fatalf("resumed watch: %v %+v %v", seen, job, err)
	}
	for _, bad := range []string{"", "{}", "not json", `{"jobId":"../x"}`, "a\x00b"} {
		if _, err := other.ResumeWatch(context.Background(), []byte(bad)); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("state %q: %v", bad, err)
		}
	}
}

func TestAdverseMediaTyped(t *testing.T) {
	c := fastClient(t, sandboxKey)
	ctx := context.Background()
	id, err := c.CreateAdverseMedia(ctx, AdverseMediaRequest{FirstName: "Many", LastName: "Hits", Email: "many@example.com", DateOfBirth: "1970-01-01"}, "")
	if err != nil {
		t.Fatal(err)
	}
	job, err := c.Wait(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	r, err := job.AdverseMedia()
	if err != nil {
		t.Fatal(err)
	}
	// The typed result says what the raw JSON says.
	var raw map[string]interface{}
	if err := json.Unmarshal(job.Result, &raw); err != nil {
		t.Fatal(err)
	}
	if r.RiskLevel != RiskLevel(raw["riskLevel"].(string)) || r.RiskScore == nil || *r.RiskScore != raw["riskScore"].(float64) ||
		r.TotalHits != uint64(raw["totalHits"].(float64)) || r.Summary != raw["summary"].(string) {
		t.Fatalf("typed %+v vs raw %s", r, job.Result)
	}
	if r.RiskLevel != RiskCritical || len(r.Findings) != 50 || r.TotalHits != 50 || len(r.ExposuresByCategory) != 9 {
		t.Fatalf("Many Hits: %s %d %d %d", r.RiskLevel, len(r.Findings), r.TotalHits, len(r.ExposuresByCategory))
	}
	var hits uint64
	for _, cat := range []Category{CategoryFinancialCrime, CategoryTerrorism, CategoryRegulatory, CategoryPolitical,
		CategoryOrganizedCrime, CategoryViolentCrime, CategoryCriminalLegal, CategoryReputational, CategoryCourtRecords} {
		hits += r.Exposure(cat).Hits
	}
	if hits != r.TotalHits || r.Exposure("no_such_category").Hits != 0 {
		t.Fatalf("exposure hits %d", hits)
	}
	for _, f := range r.Findings {
		if f.FindingID == "" || f.Severity == "" || f.Category == "" || f.Title == "" {
			t.Fatalf("finding %+v", f)
		}
	}
	// Unknown values are kept, missing fields stay zero, a wrong shape is an invalid response.
	odd := &Job{Status: StatusReady, Result: json.RawMessage(`{"riskLevel":"SEVERE","findings":null}`)}
	if r, err := odd.AdverseMedia(); err != nil || r.RiskLevel != "SEVERE" || r.RiskScore != nil || r.Findings != nil {
		t.Fatalf("odd: %+v %v", r, err)
	}
	bad := &Job{Status: StatusReady, Result: json.RawMessage(`{"totalHits":"many"}`)}
	if _, err := bad.AdverseMedia(); !errors.Is(err, ErrInvalidResponse) {
		t.Fatalf("bad shape: %v", err)
	}
	if _, err := (&Job{Status: StatusPending}).AdverseMedia(); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("pending: %v", err)
	}
}

func TestEveryOptionReachesTheLibrary(t *testing.T) {
	ok := []Option{
		WithRequestTimeout(time.Second), WithConnectTimeout(time.Second), WithPollInterval(time.Second),
		WithMaxPollInterval(2 * time.Second), WithWaitTimeout(time.Minute), WithRetryBackoff(time.Millisecond),
		WithMaxRetryBackoff(time.Second), WithMaxRetries(0), WithWaitMaxFailures(1), WithMaxBodyBytes(1 << 10),
		WithInsecureHTTP(), WithUserAgentSuffix("myapp/1.2"),
	}
	c, err := NewClient(sandboxKey, mockURL, ok...)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	// The library refuses what it refuses; Go refuses negative values.
	for i, bad := range []Option{
		WithWaitMaxFailures(0), WithRequestTimeout(-time.Second), WithMaxBodyBytes(-1), WithRetryBackoff(-1),
		WithUserAgentSuffix("bad\n"),
	} {
		if c, err := NewClient(sandboxKey, mockURL, bad); !errors.Is(err, ErrInvalidArgument) || c != nil {
			t.Fatalf("bad option %d: %v", i, err)
		}
	}
}
