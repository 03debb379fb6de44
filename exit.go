package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tierflow/tierflow/runner"
	"github.com/urfave/cli/v2"
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
// interrupted says a signal cancelled the command; onInterrupt is what the
// interruption left, said after "interrupted" (e.g. "nothing published").
func report(w io.Writer, err error, interrupted bool, onInterrupt string) int {
	switch {
	case err == nil:
		return exitOK
	case interrupted && errors.Is(err, context.Canceled):
		if onInterrupt != "" {
			fmt.Fprintln(w, "tierflow: interrupted; "+onInterrupt)
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
	var exit cli.ExitCoder
	switch {
	case errors.As(err, &exit) && strings.HasPrefix(err.Error(), "No help topic for"):
		// urfave/cli's word for an unknown command or help topic.
		fmt.Fprintf(w, "tierflow: %s (tierflow help lists the commands)\n", strings.Replace(oneLine(err), "No help topic for", "no command", 1))
		return exitUsage
	case errors.As(err, &exit):
		// bench-child's: the child said what went wrong itself.
		if msg := oneLine(err); msg != "" {
			fmt.Fprintln(w, "tierflow:", msg)
		}
		return exit.ExitCode()
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

// interruptNote is what interrupting the command in args leaves: a local
// run or a publish task publishes nothing; an AWS run's execution goes on.
func interruptNote(cmd string, args []string) string {
	onAWS := false
	for i, a := range args {
		if a == "--on=aws" || (a == "--on" && i+1 < len(args) && args[i+1] == "aws") {
			onAWS = true
		}
	}
	switch {
	case cmd == "run" && onAWS:
		return "the execution goes on in Step Functions (tierflow status, or aws stepfunctions stop-execution)"
	case cmd == "run" || cmd == "publish":
		return "nothing published"
	case cmd == "watch":
		return "the month being run published nothing"
	}
	return ""
}
