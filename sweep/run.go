package sweep

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sparsetune/sparsetune/coreset"
	"github.com/sparsetune/sparsetune/internal/jsonfile"
	"github.com/sparsetune/sparsetune/train"
)

// Files a job leaves in its directory.
const (
	ResultFile   = "result.json"   // written last: the job is finished
	FrontierFile = "frontier.json" // the frontier source job's curve
	LatencyFile  = "latency.json"  // measured at collect time
	LogFile      = "train.log"     // the job's full log, appended across resumes
)

// Result is what a finished job leaves in <job>/result.json.
type Result struct {
	Job              string         `json:"job"`
	Target           float64        `json:"target"`                      // 0: the dense point
	Ratio            float64        `json:"ratio,omitempty"`             // the coreset ratio the run trained on; 0: all the data
	Summary          *train.Summary `json:"summary,omitempty"`           // the run's summary; nil for a dense point given as a model
	DenseModel       string         `json:"dense_model,omitempty"`       // the dense point given by dense_reference
	SparseCheckpoint string         `json:"sparse_checkpoint,omitempty"` // the hardened checkpoint the run wrote, when it wrote one
}

// Checkpoint is the directory whose latency stands for the job: the
// hardened sparse checkpoint when there is one, else the best checkpoint
// (or the given dense model).
func (r *Result) Checkpoint() string {
	switch {
	case r.SparseCheckpoint != "":
		return r.SparseCheckpoint
	case r.Summary != nil:
		return r.Summary.Checkpoint
	}
	return r.DenseModel
}

// Run runs every job of the plan in dir that has not finished: the dense
// point first (it also fills the shared token cache), then the targets,
// parallel at a time. A finished job (one with a result) is skipped; an
// interrupted one resumes from its latest checkpoint. Every job's log goes
// to its train.log and, each line prefixed with the job's name, to log.
func Run(dir string, p *Plan, parallel int, log io.Writer) error {
	if parallel < 1 {
		return fmt.Errorf("parallel must be ≥ 1, got %d", parallel)
	}
	out := &lineLog{w: log}
	jobs := p.Jobs()
	if err := RunJob(dir, p, 0, out); err != nil {
		return err
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		next = make(chan Job)
	)
	for range min(parallel, len(jobs)-1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				if err := RunJob(dir, p, j.Index, out); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, j := range jobs[1:] {
		mu.Lock()
		failed := len(errs) > 0
		mu.Unlock()
		if failed {
			break // let the running jobs finish, start no more
		}
		next <- j
	}
	close(next)
	wg.Wait()
	if len(errs) <= 1 {
		return errors.Join(errs...)
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "; ")) // one line, as every error of the command line is
}

// RunJob runs job index of the plan in dir unless it has finished, and then
// the frontier when this job's run is its source. It is what a scheduler's
// array task runs (`sparsetune sweep --index N`): jobs write only under their
// own directory, so any number may run at once. A job holds its directory's
// lock (train.LockRunDir) throughout, so the same job started twice fails
// in the second process instead of writing beside the first.
func RunJob(dir string, p *Plan, index int, log io.Writer) error {
	jobs := p.Jobs()
	if index < 0 || index >= len(jobs) {
		return fmt.Errorf("index %d: the sweep has jobs 0 to %d (0 the dense point, then %s)", index, len(jobs)-1, p.jobsNote())
	}
	j := jobs[index]
	jdir := filepath.Join(dir, j.Name)
	if err := os.MkdirAll(jdir, 0o755); err != nil {
		return err
	}
	lock, err := train.LockRunDir(jdir)
	if err != nil {
		return fmt.Errorf("%s: %w", j.Name, err)
	}
	defer lock.Release()
	f, err := os.OpenFile(filepath.Join(jdir, LogFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	w := io.MultiWriter(f, prefixWriter(log, j.Name))
	if _, err := ReadResult(jdir); err == nil {
		fmt.Fprintf(w, "finished earlier; skipped\n")
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	} else if err := runOne(dir, p, j, w); err != nil {
		return fmt.Errorf("%s: %w", j.Name, err)
	}
	if p.Frontier.From == 0 || j.Target != p.Frontier.From {
		return nil
	}
	if _, err := os.Stat(filepath.Join(jdir, FrontierFile)); err == nil {
		fmt.Fprintf(w, "frontier finished earlier; skipped\n")
		return nil
	}
	c := p.Config(dir, j)
	curve, err := Frontier(FrontierConfig{Run: jdir, Targets: p.Frontier.Targets, AdaptSteps: p.Frontier.AdaptSteps, CacheDir: c.CacheDir}, w)
	if err != nil {
		return fmt.Errorf("%s: %w", j.Name, err)
	}
	fmt.Fprintf(w, "frontier: %d points in %.0f s\n", len(curve.Points), curve.WallS)
	return jsonfile.Write(filepath.Join(jdir, FrontierFile), curve)
}

// runOne trains job j (resuming it when it was interrupted) and writes its
// result.
func runOne(dir string, p *Plan, j Job, w io.Writer) error {
	jdir := filepath.Join(dir, j.Name)
	r := &Result{Job: j.Name, Target: j.Target, Ratio: j.Ratio}
	if j.Target == 0 && p.DenseRef != "" {
		fmt.Fprintf(w, "dense point: %s, evaluated by every sparse run as its dense reference\n", p.DenseRef)
		r.DenseModel = p.DenseRef
		return jsonfile.Write(filepath.Join(jdir, ResultFile), r)
	}
	if j.Ratio > 0 && p.SharesDynamics() {
		if err := denseDynamicsReady(dir); err != nil {
			return err
		}
	}
	c := p.Config(dir, j)
	c.Resume = train.HoldsRun(c.OutDir)
	if c.Resume {
		fmt.Fprintf(w, "interrupted earlier; resuming\n")
	}
	start := time.Now()
	sum, err := coreset.Train(c, w)
	if err != nil {
		return err
	}
	r.Summary, r.SparseCheckpoint = sum, sum.SparseCheckpoint
	fmt.Fprintf(w, "finished in %.0f s: %s %.4f%s\n", time.Since(start).Seconds(), sum.MetricName, sum.Metric, computeNote(sum))
	return jsonfile.Write(filepath.Join(jdir, ResultFile), r)
}

// denseDynamicsReady checks that job 0 has finished and left the
// training-dynamics table that the ratio jobs score with: a ratio job
// started before it (an array task, say) fails with a line that says so.
func denseDynamicsReady(dir string) error {
	table := DynamicsTable(dir)
	_, rerr := ReadResult(filepath.Join(dir, DenseJob))
	if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		return rerr
	}
	_, serr := os.Stat(table)
	if rerr == nil && serr == nil {
		return nil
	}
	what := "has not finished"
	if rerr == nil {
		what = "finished without it"
	}
	return fmt.Errorf("the training-dynamics table %s that every ratio job scores its subset with is missing: job 0 (%s) records it and %s; job 0 must finish first (`sparsetune sweep --out-dir %s --index 0`), then run this job again", table, DenseJob, what, dir)
}

// jobsNote says what the jobs after the dense point are.
func (p *Plan) jobsNote() string {
	switch {
	case len(p.Ratios) == 0:
		return "one per target"
	case len(p.Targets) == 0:
		return "one per data ratio"
	}
	return "one per target and data ratio"
}

func computeNote(sum *train.Summary) string {
	if sum.Compute == nil {
		return ""
	}
	return fmt.Sprintf(", measured compute %.4f", *sum.Compute)
}

// ReadResult reads a job directory's result; the error wraps
// fs.ErrNotExist when the job has not finished.
func ReadResult(jdir string) (*Result, error) {
	r := &Result{}
	if err := jsonfile.Read(filepath.Join(jdir, ResultFile), r); err != nil {
		return nil, err
	}
	return r, nil
}

// lineLog serialises whole lines from concurrent jobs onto one writer.
type lineLog struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// prefixWriter writes each complete line to w with "[name] " in front;
// a job's lines stay whole even when several jobs share w.
func prefixWriter(w io.Writer, name string) io.Writer {
	return &prefixed{w: w, prefix: []byte("[" + name + "] ")}
}

type prefixed struct {
	w      io.Writer
	prefix []byte
	buf    []byte
}

func (p *prefixed) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := append(append([]byte{}, p.prefix...), p.buf[:i+1]...)
		if _, err := p.w.Write(line); err != nil {
			return 0, err
		}
		p.buf = p.buf[i+1:]
	}
}
