package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tierflow/tierflow/runner"
)

// Exit codes, as documented in the README.
const (
	exitOK          = 0   // done, or nothing to do
	exitFailed      = 1   // the command failed
	exitUsage       = 2   // bad usage or invalid input: nothing was attempted
	exitInterrupted = 130 // Ctrl-C (SIGINT) or SIGTERM
)

// usageError marks an error in how the command was called.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// report prints err (once, on one line) and returns the exit code.
// interrupted says a signal cancelled the command; publishing says the
// command could have published (run), so its interruption says what that
// left.
func report(w io.Writer, err error, interrupted, publishing bool) int {
	switch {
	case err == nil:
		return exitOK
	case interrupted && errors.Is(err, context.Canceled):
		if publishing {
			fmt.Fprintln(w, "tierflow: interrupted; nothing published")
		} else {
			fmt.Fprintln(w, "tierflow: interrupted")
		}
		return exitInterrupted
	}
	if strings.Contains(err.Error(), "failed to refresh cached credentials") {
		// The SDK's chain says, in 300 characters, which of its sources
		// it tried; say what to do instead.
		fmt.Fprintln(w, "tierflow: no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with a role (ECS task role, EC2 instance profile); --log-level debug shows the SDK's chain")
		return exitFailed
	}
	fmt.Fprintln(w, "tierflow:", oneLine(err))
	var u usageError
	if errors.As(err, &u) || runner.IsInvalidInput(err) || strings.HasPrefix(err.Error(), "Required flag") {
		return exitUsage
	}
	return exitFailed
}

// oneLine folds an error onto one readable line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}
