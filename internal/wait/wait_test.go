package wait_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-elb/elb/internal/fakeclock"
	"github.com/go-elb/elb/internal/wait"
)

func TestSleep(t *testing.T) {
	clk := fakeclock.New(time.Unix(0, 0))
	done := make(chan error, 1)
	go func() { done <- wait.Sleep(context.Background(), clk, time.Second) }()
	for clk.Pending() == 0 {
		time.Sleep(time.Millisecond)
	}
	select {
	case <-done:
		t.Fatal("returned before the clock moved")
	default:
	}
	clk.Advance(time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := wait.Sleep(ctx, clk, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if err := wait.Sleep(context.Background(), clk, 0); err != nil {
		t.Fatalf("zero: %v", err)
	}
}
