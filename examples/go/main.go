// Command example screens a person for adverse media with the deepidv Go module and waits for the result.
//
//	DEEPIDV_API_KEY=sk_test_... DEEPIDV_BASE_URL=http://127.0.0.1:8080 go run . -first Alan -last Clean
//
// It prints each status change to stderr as it is observed, then "ready <job id> risk=<level> hits=<n>",
// or the error and exits 1.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/deepidv/deepidv-rs/go"
)

func main() {
	first := flag.String("first", "Alan", "first name")
	last := flag.String("last", "Clean", "last name")
	email := flag.String("email", "alan@example.com", "email")
	dob := flag.String("dob", "1912-06-23", "date of birth (YYYY-MM-DD)")
	timeout := flag.Duration("timeout", 2*time.Minute, "how long to wait for the result")
	flag.Parse()

	client, err := deepidv.NewClient(os.Getenv("DEEPIDV_API_KEY"), os.Getenv("DEEPIDV_BASE_URL"),
		deepidv.WithPollInterval(200*time.Millisecond))
	if err != nil {
		fail(err)
	}
	defer client.Close()

	// Ctrl-C cancels the wait; -timeout bounds it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	id, err := client.CreateAdverseMedia(ctx, deepidv.AdverseMediaRequest{
		FirstName: *first, LastName: *last, Email: *email, DateOfBirth: *dob,
	}, "")
	if err != nil {
		fail(err)
	}
	w, err := client.Watch(ctx, id)
	if err != nil {
		fail(err)
	}
	defer w.Close()
	for w.Next() {
		fmt.Fprintln(os.Stderr, "status:", w.Status())
	}
	job, err := w.Result()
	if err != nil {
		fail(err) // errors.Is(err, deepidv.ErrJobFailed): job.Error says why
	}
	result, err := job.AdverseMedia()
	if err != nil {
		fail(err)
	}
	fmt.Printf("%s %s risk=%s hits=%d\n", job.Status, job.ID, result.RiskLevel, result.TotalHits)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "example:", err)
	os.Exit(1)
}
