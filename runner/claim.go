package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tierflow/tierflow/lake/lineage"
)

// ExecutionARNEnv names the environment variable through which the state
// machine tells a task its Step Functions execution; a claim records it so
// that a later execution can see whether the holder still runs.
const ExecutionARNEnv = "TIERFLOW_EXECUTION_ARN"

// holderClaim is a claim request by owner, naming this process (or the
// identity the Env was given).
func (e *Env) holderClaim(owner string) lineage.Claim {
	host, pid := e.Host, e.PID
	if host == "" {
		host, _ = os.Hostname()
	}
	if pid == 0 {
		pid = os.Getpid()
	}
	return lineage.Claim{Owner: owner, Host: host, PID: pid, Execution: os.Getenv(ExecutionARNEnv)}
}

// Liveness says whether a claim's holder is still working.
type Liveness int

// The answers of Env.HolderAlive.
const (
	HolderUnknown Liveness = iota // cannot be told from here: wait for the lease
	HolderAlive
	HolderDead
)

func (l Liveness) String() string {
	switch l {
	case HolderAlive:
		return "it looks alive"
	case HolderDead:
		return "it is dead"
	}
	return "whether it is alive cannot be checked from here"
}

// localLiveness tells a holder on this host by its process id. A PID reused
// by another process reads as alive: the safe side (the lease then decides).
func localLiveness(c lineage.Claim) Liveness {
	host, _ := os.Hostname()
	if c.Host == "" || c.Host != host || c.PID <= 0 {
		return HolderUnknown
	}
	if c.PID == os.Getpid() {
		return HolderAlive
	}
	return processLiveness(c.PID)
}

// holderAlive asks env's checks in turn: the process on this host, then
// (on AWS) the holder's Step Functions execution.
func (e *Env) holderAlive(ctx context.Context, c lineage.Claim) Liveness {
	if l := localLiveness(c); l != HolderUnknown {
		return l
	}
	if e.ExecutionAlive != nil && c.Execution != "" {
		return e.ExecutionAlive(ctx, c.Execution)
	}
	return HolderUnknown
}

// HeldError says who holds a month and what to do about it.
type HeldError struct {
	Job, Month string
	Holder     lineage.Claim
	Liveness   Liveness
	Doing      string // what the refused command wanted, e.g. "run 1a2b-1"
}

func (e *HeldError) Error() string {
	h := e.Holder
	who := fmt.Sprintf("run %s", RunOfOwner(h.Owner))
	if strings.HasPrefix(h.Owner, "rollback#") {
		who = "a rollback"
	}
	var where []string
	if h.PID > 0 {
		where = append(where, fmt.Sprintf("pid %d on %s", h.PID, h.Host))
	}
	if h.Execution != "" {
		where = append(where, "execution "+h.Execution)
	}
	if !h.Since.IsZero() {
		where = append(where, "since "+h.Since.Local().Format("2006-01-02 15:04:05"))
	}
	if !h.Renewed.IsZero() {
		where = append(where, fmt.Sprintf("renewed %s ago", time.Since(h.Renewed).Round(time.Second)))
	}
	if !h.Expires.IsZero() {
		where = append(where, fmt.Sprintf("lease ends in %s", time.Until(h.Expires).Round(time.Second)))
	}
	return fmt.Sprintf("month %s of job %s is held by %s (%s); %s. Not starting %s: wait for it, or, if you know it is dead, run `tierflow unlock --job %s --month %s`",
		e.Month, e.Job, who, strings.Join(where, ", "), e.Liveness, e.Doing, e.Job, e.Month)
}

// Unwrap makes errors.Is(err, lineage.ErrConflict) hold.
func (e *HeldError) Unwrap() error { return lineage.ErrConflict }

// RunOfOwner is the run id part of a claim owner ("<run id>#<nonce>").
func RunOfOwner(owner string) string {
	id, _, _ := strings.Cut(owner, "#")
	return id
}

// claimMonth claims (job, month) for owner. A holder that is known to be
// dead (its process is gone from this host, or its execution has stopped)
// is taken over at once, with a log line; any other holder refuses the
// claim with a *HeldError.
func claimMonth(ctx context.Context, env *Env, job, month, owner, doing string, lease time.Duration, log logger) (lineage.Claim, error) {
	want := env.holderClaim(owner)
	c, err := env.Lineage.Claim(ctx, job, month, want, lease)
	var held *lineage.HeldError
	if !errors.As(err, &held) {
		if err != nil {
			return c, fmt.Errorf("claim month %s: %w", month, err)
		}
		return c, nil
	}
	live := env.holderAlive(ctx, held.Holder)
	if live != HolderDead {
		return c, &HeldError{Job: job, Month: month, Holder: held.Holder, Liveness: live, Doing: doing}
	}
	c, err = env.Lineage.TakeOver(ctx, job, month, held.Holder, want, lease)
	if err != nil {
		return c, fmt.Errorf("take over month %s from %s: %w", month, held.Holder.Owner, err)
	}
	log.Warn().Str("from", RunOfOwner(held.Holder.Owner)).Int("pid", held.Holder.PID).Str("host", held.Holder.Host).
		Str("execution", held.Holder.Execution).Msg("took over the month from a holder that died without releasing it")
	return c, nil
}

// errFenced is the cause of a run's cancellation when its claim was taken.
var errFenced = errors.New("this run lost its claim on the month (it was paused or could not renew for longer than its lease, and another command took the month over); it stopped without publishing")

// renewClaim keeps the month's claim alive while the run works, every
// lease/4. If the claim was taken over, the run is fenced off: lost is
// called (it cancels the run) and renewal stops. The returned func stops
// renewal.
func renewClaim(ctx context.Context, env *Env, job, month string, c lineage.Claim, lease time.Duration, log logger, lost func(error)) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(lease / 4)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				err := env.Lineage.Renew(ctx, job, month, c.Owner, c.Token, lease)
				switch {
				case err == nil, ctx.Err() != nil:
				case errors.Is(err, lineage.ErrConflict):
					log.Error().Msg("lost the month's claim to another command; stopping")
					lost(errFenced)
					return
				default:
					log.Warn().Err(err).Msg("renewing the month claim")
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// Unlock releases a month's claim whose holder is known to be dead. It
// refuses while the holder is alive, or while it keeps renewing its lease
// (a holder on another machine cannot be checked any other way).
func Unlock(ctx context.Context, env *Env, job, month string, lease time.Duration) (lineage.Claim, error) {
	m, err := env.Lineage.Month(ctx, job, month)
	if err != nil {
		return lineage.Claim{}, err
	}
	h := m.Claim
	if h.Owner == "" {
		return h, fmt.Errorf("month %s of job %s is not held by anyone: nothing to unlock", month, job)
	}
	live := env.holderAlive(ctx, h)
	renewing := time.Since(h.Renewed) < lease/2 && time.Now().Before(h.Expires)
	if live == HolderAlive || (live == HolderUnknown && renewing) {
		why := live.String()
		if live != HolderAlive {
			why = fmt.Sprintf("it renewed its lease %s ago", time.Since(h.Renewed).Round(time.Second))
		}
		return h, fmt.Errorf("month %s of job %s is held by run %s (pid %d on %s) and %s: refusing to unlock a live holder",
			month, job, RunOfOwner(h.Owner), h.PID, h.Host, why)
	}
	// Taking the claim over and releasing it gives the month a new token:
	// if the holder was alive after all, it is fenced off.
	c, err := env.Lineage.TakeOver(ctx, job, month, h, env.holderClaim("unlock#"+nonce()), time.Minute)
	if err != nil {
		return h, fmt.Errorf("unlock month %s: %w", month, err)
	}
	if err := env.Lineage.Release(ctx, job, month, c.Owner); err != nil {
		return h, fmt.Errorf("unlock month %s: %w", month, err)
	}
	return h, nil
}
