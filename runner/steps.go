package runner

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/storage"
)

// Exec is the state one execution's steps hand each other. Locally they
// run in one process; on AWS each is its own Fargate task, so the state is
// kept in the lake under ExecPrefix (see /docs/aws.md).
type Exec struct {
	Name  string `json:"execution"`
	Job   string `json:"job"`
	Month string `json:"month"`
	RunID string `json:"run_id,omitempty"`
	// Claim is the owner token of the month's claim: the run id plus a
	// random nonce, so two attempts that compute the same run id (the same
	// inputs, started at once) cannot both hold the month.
	Claim string `json:"claim,omitempty"`
	// Token is the claim's fencing token: the commit is conditional on it.
	Token   int64 `json:"token,omitempty"`
	Skipped bool  `json:"skipped"`
	// Waiting: skipped because the month's delivery is not complete yet
	// (source.complete_when); Reason says what is missing.
	Waiting  bool      `json:"waiting,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Previous string    `json:"previous,omitempty"`
	Started  time.Time `json:"started"`
	Plan     *Plan     `json:"plan"`
}

// ExecPrefix is where an execution's state lives.
func ExecPrefix(job, execution string) string {
	return fmt.Sprintf("_tierflow/executions/%s/%s/", job, execution)
}

// partItem is one element of parts.json, the convert Map's items.
type partItem struct {
	Key  string `json:"key"`
	Name string `json:"name"`
}

func putJSON(ctx context.Context, st storage.Storage, key string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return storage.Put(ctx, st, key, bytes.NewReader(b), storage.PutOptions{ContentType: "application/json"})
}

func getJSON(ctx context.Context, st storage.Storage, key string, v any) error {
	rc, err := st.Open(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", st.ObjectURI(key), err)
	}
	return nil
}

// save writes plan.json and parts.json.
func (ex *Exec) save(ctx context.Context, st storage.Storage) error {
	prefix := ExecPrefix(ex.Job, ex.Name)
	items := []partItem{}
	if !ex.Skipped {
		for _, p := range ex.Plan.Parts {
			items = append(items, partItem{Key: p.Key, Name: p.Name})
		}
	}
	if err := putJSON(ctx, st, prefix+"parts.json", items); err != nil {
		return fmt.Errorf("save execution %s: %w", ex.Name, err)
	}
	if err := putJSON(ctx, st, prefix+"plan.json", ex); err != nil {
		return fmt.Errorf("save execution %s: %w", ex.Name, err)
	}
	return nil
}

// LoadExec reads an execution's state written by PlanStep.
func LoadExec(ctx context.Context, st storage.Storage, job, execution string) (*Exec, error) {
	var ex Exec
	if err := getJSON(ctx, st, ExecPrefix(job, execution)+"plan.json", &ex); err != nil {
		if errors.Is(err, storage.ErrNotExist) {
			return nil, fmt.Errorf("execution %s of job %s has no plan (run the plan step first): %w", execution, job, err)
		}
		return nil, fmt.Errorf("execution %s: %w", execution, err)
	}
	return &ex, nil
}

// PlanStep lists the month's parts and decides: wait (the delivery is not
// complete yet: nothing is claimed or recorded, and only an execution's
// plan.json is written, for the state machine to read), skip (the
// published run came from identical inputs, or, for an execution, a run
// of identical inputs holds the month; unless force) or start a run,
// which claims the month for lease and is recorded in lineage. execution
// "" names the execution after the run. The state is saved for the later
// steps.
func PlanStep(ctx context.Context, env *Env, spec *jobs.Spec, month, execution string, force bool, lease time.Duration) (*Exec, error) {
	if _, err := jobs.ParseMonth(month); err != nil {
		return nil, invalidInput{err}
	}
	// A derived table that cannot run is found now, not after every part
	// is converted.
	if _, err := ValidateDerived(ctx, spec); err != nil {
		return nil, err
	}
	log := env.Log.With().Str("job", spec.Name).Str("month", month).Logger()
	started := time.Now()
	objs, err := listParts(ctx, env.Storage, spec, month)
	if err != nil {
		return nil, err
	}
	var listed map[string]ManifestPart
	if spec.Source.CompleteWhen.Set() {
		d, err := checkDelivery(ctx, env.Storage, spec, month, objs, started)
		if err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		if d.Waiting != "" {
			return waitForDelivery(ctx, env, spec, month, execution, started, d.Waiting)
		}
		listed = d.Listed
	}
	plan, err := newPlan(env.Storage, spec, month, env.CodeVersion, objs)
	if err != nil {
		return nil, err
	}
	for i, p := range plan.Parts {
		lp := listed[path.Base(p.Key)]
		plan.Parts[i].SHA256, plan.Parts[i].MD5 = lp.SHA256, lp.MD5
	}
	planStage := lineage.Stage{Name: "plan", Wall: time.Since(started), Files: len(plan.Parts)}
	for _, p := range plan.Parts {
		planStage.BytesIn += p.Size
	}
	ex := &Exec{Name: execution, Job: spec.Name, Month: month, Started: started, Plan: plan}

	// An earlier command may have committed and died before rolling the
	// catalog forward: finish that first.
	rep, err := Repair(ctx, env, spec, month)
	if err != nil {
		return nil, err
	}
	prev := rep.Run
	ex.Previous = prev
	if prev != "" && !force {
		pr, err := env.Lineage.GetRun(ctx, spec.Name, prev)
		if err != nil {
			return nil, fmt.Errorf("run %s: %w", prev, err)
		}
		if pr.Fingerprint == plan.Fingerprint {
			ex.Skipped = true
			ex.Reason = fmt.Sprintf("month %s already published by run %s from identical inputs; nothing to do (use --force to rerun)", month, prev)
			log.Info().Str("run", prev).Msg("month already published from identical inputs; nothing to do (use --force to rerun)")
			if ex.Name == "" {
				ex.Name = prev
			}
			return ex, ex.save(ctx, env.Storage)
		}
	}

	if ex.RunID, err = nextRunID(ctx, env, spec, month, plan.Fingerprint); err != nil {
		return nil, err
	}
	if ex.Name == "" {
		ex.Name = ex.RunID
	}
	claim, err := claimMonth(ctx, env, spec.Name, month, ex.RunID+"#"+nonce(), "run "+ex.RunID, lease, log)
	var held *HeldError
	if errors.As(err, &held) && execution != "" && !force && strings.HasPrefix(RunOfOwner(held.Holder.Owner), plan.Fingerprint[:12]+"-") {
		// On AWS every intake object starts a check: two that land
		// together both find the delivery complete. The later one is a
		// duplicate of the run in progress, not a conflict.
		ex.Skipped, ex.RunID = true, ""
		by := "run " + RunOfOwner(held.Holder.Owner)
		if e := held.Holder.Execution; e != "" {
			by += " (execution " + e[strings.LastIndex(e, ":")+1:] + ")"
		}
		ex.Reason = fmt.Sprintf("month %s is being run from identical inputs by %s; nothing to do", month, by)
		log.Info().Str("run", RunOfOwner(held.Holder.Owner)).Msg(ex.Reason)
		return ex, ex.save(ctx, env.Storage)
	}
	if err != nil {
		return nil, err
	}
	ex.Claim, ex.Token = claim.Owner, claim.Token
	// The claim may have been released by a rollback or taken from a dead
	// holder while this plan read the published run: read it again.
	if m, err := env.Lineage.Month(ctx, spec.Name, month); err == nil {
		ex.Previous = m.Published.RunID
	}
	markAbandoned(ctx, env, spec.Name, month, log)
	run := lineage.Run{
		ID: ex.RunID, Job: spec.Name, Month: month, Status: lineage.StatusRunning,
		Started: started, CodeVersion: env.CodeVersion, Fingerprint: plan.Fingerprint,
		Parent: execution, Stages: []lineage.Stage{planStage},
	}
	if err := env.Lineage.StartRun(ctx, run); err != nil {
		_ = env.Lineage.Release(context.WithoutCancel(ctx), spec.Name, month, ex.Claim)
		return nil, fmt.Errorf("start run %s: %w", ex.RunID, err)
	}
	if err := ex.save(ctx, env.Storage); err != nil {
		return nil, err
	}
	olEmitStart(ctx, env, spec, ex, run)
	log.Info().Str("run", ex.RunID).Int("parts", len(plan.Parts)).Str("previous", prev).Msg("run started")
	return ex, nil
}

// waitForDelivery is PlanStep's answer for a delivery that is not complete:
// it logs why and, for a Step Functions execution, writes plan.json (the
// state machine's ReadPlan reads it and ends in NothingToDo); a local run
// writes nothing.
func waitForDelivery(ctx context.Context, env *Env, spec *jobs.Spec, month, execution string, started time.Time, why string) (*Exec, error) {
	ex := &Exec{Name: execution, Job: spec.Name, Month: month, Started: started, Skipped: true, Waiting: true,
		Reason: fmt.Sprintf("delivery for %s not complete: %s; waiting", month, why)}
	env.Log.Info().Str("job", spec.Name).Str("month", month).Str("complete_when", spec.Source.CompleteWhen.String()).
		Msg(ex.Reason)
	if execution == "" {
		return ex, nil
	}
	if err := putJSON(ctx, env.Storage, ExecPrefix(ex.Job, ex.Name)+"plan.json", ex); err != nil {
		return nil, fmt.Errorf("save execution %s: %w", ex.Name, err)
	}
	return ex, nil
}

// nonce is 8 random bytes in hex.
func nonce() string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// resumeJob picks an execution up where the previous step left it.
func resumeJob(ctx context.Context, env *Env, spec *jobs.Spec, ex *Exec) (*job, error) {
	if ex.Skipped {
		return nil, fmt.Errorf("execution %s was skipped: %s", ex.Name, ex.Reason)
	}
	run, err := env.Lineage.GetRun(ctx, spec.Name, ex.RunID)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", ex.RunID, err)
	}
	layout := jobs.Layout{Spec: spec}
	j := &job{
		env: env, spec: spec, ex: ex, plan: ex.Plan, run: &run, layout: layout,
		log: env.Log.With().Str("job", spec.Name).Str("month", ex.Month).Str("run", ex.RunID).Logger(),
		res: &Result{Previous: ex.Previous, Parts: ex.Plan.Parts},
	}
	j.res.RunMeta = DirURI(env.Storage, layout.RunMetaPrefix(ex.RunID))
	return j, nil
}

// finish records the run's end and releases the month. A run that
// committed is COMPLETE, whatever failed after the commit (those steps are
// finished by repair). A run that did not commit is FAIL, and what it wrote
// to its data prefixes is removed (unless the commit's outcome is unknown).
// The last log line says which.
func (j *job) finish(ctx context.Context, runErr error) (lineage.Run, error) {
	ctx = context.WithoutCancel(ctx)
	run := *j.run
	run.Ended = time.Now()
	month := j.ex.Month
	interrupted := false
	switch {
	case j.committed:
		runErr = nil
		run.Status, run.Published, run.Error = lineage.StatusComplete, true, ""
	default:
		if runErr == nil {
			runErr = errors.New("the run ended without committing")
		}
		interrupted = errors.Is(runErr, context.Canceled)
		run.Status = lineage.StatusFailed
		run.Error = runErr.Error()
		if !j.uncertain {
			j.cleanup(ctx)
		}
	}
	if err := j.env.Lineage.FinishRun(ctx, run); err != nil {
		if j.committed {
			j.followUp("recording the run as complete", err)
		} else {
			runErr = errors.Join(runErr, fmt.Errorf("finish run %s: %w", run.ID, err))
		}
	}
	if err := j.env.Lineage.Release(ctx, j.spec.Name, month, j.ex.Claim); err != nil {
		j.log.Warn().Err(err).Msg("releasing the month claim (it expires by itself)")
	}
	j.olEmitRun(ctx, olEventType(j.committed, runErr), run, runErr)
	switch {
	case j.committed && len(j.pending) > 0:
		j.log.Warn().Int("follow_ups", len(j.pending)).Msgf("run complete: month %s is published by run %s; %d follow-up steps failed and are finished by the next command (or: tierflow repair --job %s --month %s)",
			month, run.ID, len(j.pending), j.spec.Name, month)
	case j.committed:
		j.log.Info().Float64("wall_s", run.Ended.Sub(run.Started).Seconds()).Int64("rows_out", run.RowsOut).Int64("rows_rejected", run.RowsRejected).
			Msgf("run complete: month %s is published by run %s", month, run.ID)
	case interrupted:
		// The command says it once: "interrupted; nothing published".
		j.log.Warn().Msg("run interrupted; what it wrote was removed")
	case j.uncertain:
		j.log.Error().Err(runErr).Msgf("run failed and whether its commit landed is unknown; run: tierflow repair --job %s --month %s", j.spec.Name, month)
	case j.res.Previous != "":
		j.log.Error().Err(runErr).Msgf("run failed; nothing was published: month %s still shows run %s", month, j.res.Previous)
	default:
		j.log.Error().Err(runErr).Msgf("run failed; nothing was published: month %s has no published run", month)
	}
	return run, runErr
}
