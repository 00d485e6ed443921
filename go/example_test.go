package deepidv_test

// These examples run against the simulator the tests start (DEEPIDV_BASE_URL, DEEPIDV_API_KEY), where a
// screening stays pending, then processing, for 300ms each, and "Alan Clean" has a LOW-risk, no-hit result.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	deepidv "github.com/deepidv/deepidv-rs/go"
)

func newClient() *deepidv.Client {
	client, err := deepidv.NewClient(os.Getenv("DEEPIDV_API_KEY"), os.Getenv("DEEPIDV_BASE_URL"),
		deepidv.WithPollInterval(20*time.Millisecond), deepidv.WithMaxPollInterval(40*time.Millisecond))
	if err != nil {
		panic(err)
	}
	return client
}

var alan = deepidv.AdverseMediaRequest{FirstName: "Alan", LastName: "Clean", Email: "alan@example.com", DateOfBirth: "1912-06-23"}

// Start a screening, wait for it, read the typed result.
func ExampleClient_Wait() {
	client := newClient()
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	id, err := client.CreateAdverseMedia(ctx, alan, "")
	if err != nil {
		fmt.Println("create:", err)
		return
	}
	job, err := client.Wait(ctx, id)
	switch {
	case errors.Is(err, deepidv.ErrJobFailed):
		fmt.Println("failed:", job.Error)
	case err != nil:
		fmt.Println("wait:", err)
	default:
		result, _ := job.AdverseMedia()
		fmt.Println(job.Status, result.RiskLevel, result.TotalHits, len(result.ExposuresByCategory))
	}
	// Output: ready LOW 0 9
}

// Each status change, as it is observed.
func ExampleClient_Watch() {
	client := newClient()
	defer client.Close()
	ctx := context.Background()
	id, err := client.CreateAdverseMedia(ctx, alan, "")
	if err != nil {
		fmt.Println("create:", err)
		return
	}
	w, err := client.Watch(ctx, id)
	if err != nil {
		fmt.Println("watch:", err)
		return
	}
	defer w.Close()
	for w.Next() {
		fmt.Println(w.Status())
	}
	if _, err := w.Result(); err != nil {
		fmt.Println("watch:", err)
	}
	// Output:
	// pending
	// processing
	// ready
}

// Stop a wait, keep its progress, and finish it later (in another process, with another client).
func ExampleWatch_Save() {
	client := newClient()
	defer client.Close()
	id, err := client.CreateAdverseMedia(context.Background(), alan, "")
	if err != nil {
		fmt.Println("create:", err)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	w, err := client.Watch(ctx, id)
	if err != nil {
		fmt.Println("watch:", err)
		return
	}
	w.Next() // the first status...
	stop()   // ...then the program is told to stop
	state, err := w.Save()
	w.Close()
	if err != nil {
		fmt.Println("save:", err)
		return
	}
	// state is a small JSON blob without the API key: store it anywhere.

	later := newClient()
	defer later.Close()
	job, err := later.Resume(context.Background(), state)
	fmt.Println(job.ID == id, job.Status, err)
	// Output: true ready <nil>
}

// Errors are matched with errors.Is on the outcome sentinels; *deepidv.Error has the details.
func ExampleError() {
	client := newClient()
	defer client.Close()
	_, err := client.GetJob(context.Background(), "job_does_not_exist")
	var e *deepidv.Error
	fmt.Println(errors.Is(err, deepidv.ErrNotFound), errors.As(err, &e) && e.HTTPStatus == 404, e.Code)
	// Output: true true DEEPIDV_NOT_FOUND
}

// Every client setting of the C library has an option; a context deadline bounds a single wait.
func ExampleNewClient() {
	client, err := deepidv.NewClient(os.Getenv("DEEPIDV_API_KEY"), os.Getenv("DEEPIDV_BASE_URL"),
		deepidv.WithRequestTimeout(10*time.Second),
		deepidv.WithConnectTimeout(3*time.Second),
		deepidv.WithPollInterval(time.Second),
		deepidv.WithMaxPollInterval(5*time.Second),
		deepidv.WithWaitTimeout(10*time.Minute),
		deepidv.WithRetryBackoff(500*time.Millisecond),
		deepidv.WithMaxRetryBackoff(30*time.Second),
		deepidv.WithMaxRetries(3),
		deepidv.WithWaitMaxFailures(5),
		deepidv.WithMaxBodyBytes(16<<20),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	fmt.Println(deepidv.Version() != "")
	// Output: true
}
