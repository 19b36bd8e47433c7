package sweep

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests below start this test binary as worker processes (the os/exec
// helper-process pattern): TestWorkerProcess does the work of
// `ntkharness sweep run SPEC --results DIR` when SWEEP_TEST_WORKER=1 and
// nothing otherwise.
func TestWorkerProcess(t *testing.T) {
	if os.Getenv("SWEEP_TEST_WORKER") != "1" {
		return
	}
	args := os.Args
	for len(args) > 0 && args[0] != "--" {
		args = args[1:]
	}
	os.Exit(worker(args[1:]))
}

// worker runs the sweep args[0] into the results root args[1]: the cells of
// the task in the environment (SWEEP_TEST_PER_TASK cells per task), or all.
func worker(args []string) int {
	s, err := Load(args[0])
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return ExitUsage
	}
	opt := RunOptions{Results: args[1], Workers: 2}
	per, _ := strconv.Atoi(os.Getenv("SWEEP_TEST_PER_TASK"))
	if task, _, ok, err := TaskFromEnv(os.Getenv); ok {
		if err == nil {
			opt.Cells, err = s.TaskCells(task, max(per, 1))
		}
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			return ExitUsage
		}
	}
	_, err = s.Run(context.Background(), opt)
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
	}
	return ExitCode(err)
}

// workerCmd returns a worker process for spec and root with extra
// environment variables. The cluster index variables of the test's own
// environment are cleared.
func workerCmd(t *testing.T, spec, root string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestWorkerProcess$", "--", spec, root)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "JOB_COMPLETION_INDEX" || name == "SLURM_ARRAY_TASK_ID" || name == "AWS_BATCH_JOB_ARRAY_INDEX" {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "SWEEP_TEST_WORKER=1")
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	return cmd
}

func exitStatus(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// writeSpec writes src to a sweep file in a fresh folder and parses it.
func writeSpec(t *testing.T, src string) (*Sweep, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sweep.json")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return s, path
}

// reference runs s in-process, uninterrupted, and gathers it.
func reference(t *testing.T, s *Sweep) Table {
	t.Helper()
	root := t.TempDir()
	if _, err := s.Run(context.Background(), RunOptions{Results: root, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	tab, err := Gather(s, root)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// checkCellsDir asserts that the cells folder holds exactly the n result
// files (and possibly temporary files of killed writers, which are ignored).
func checkCellsDir(t *testing.T, s *Sweep, root string, n int) {
	t.Helper()
	entries, err := os.ReadDir(s.cellsDir(root))
	if err != nil {
		t.Fatal(err)
	}
	results, temps := 0, 0
	for _, e := range entries {
		switch {
		case strings.HasPrefix(e.Name(), "."):
			temps++
		case strings.HasSuffix(e.Name(), ".json"):
			results++
		default:
			t.Errorf("unexpected file %s in the cells folder", e.Name())
		}
	}
	if results != n {
		t.Errorf("%d result files, want %d", results, n)
	}
	if temps > 0 {
		t.Logf("%d temporary files left by killed writers (ignored by readers)", temps)
	}
}

const slowGrid = `{
  "name": "slow",
  "spec": {"arch": "fcn", "act": "erf", "depth": 1, "sw2": 1, "sb2": 0.1},
  "grid": {"sw2": [0.5, 1, 1.5, 2], "depth": [1, 2, 3], "seed": [0, 1]},
  "kinds": ["synthetic"],
  "settings": {"synthetic": {"sleep_ms": SLEEP, "diverge": [7]}}
}`

func slowSpec(sleepMS int) string {
	return strings.Replace(slowGrid, "SLEEP", strconv.Itoa(sleepMS), 1)
}

// TestKillAndResume kills worker processes with SIGKILL at random moments,
// reruns, and checks that the final table equals an uninterrupted run's:
// nothing lost, nothing duplicated, nothing corrupt.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	s, path := writeSpec(t, slowSpec(15)) // 24 cells of 15 ms, 2 at a time
	want := reference(t, s)
	root := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	killed, rounds := 0, 0
	// Kill workers until one finishes on its own (at most 40 rounds).
	for ; rounds < 40; rounds++ {
		cmd := workerCmd(t, path, root)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(10+rng.IntN(70)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) && !ee.Exited() {
			killed++
			continue
		}
		if err != nil {
			t.Fatalf("round %d: worker failed on its own: %v: %s", rounds, err, cmd.Stderr)
		}
		break
	}
	if killed < 3 {
		t.Fatalf("only %d workers were killed mid-run; the test proves little (make the cells slower)", killed)
	}
	cmd := workerCmd(t, path, root)
	if err := cmd.Run(); err != nil {
		t.Fatalf("final run: %v: %s", err, cmd.Stderr)
	}
	got, err := Gather(s, root)
	if err != nil {
		t.Fatal(err)
	}
	sameTable(t, got, want)
	checkCellsDir(t, s, root, s.Len())
	t.Logf("%d workers killed mid-run before one finished", killed)
}

// TestIndexedWorkers starts one process per task with the task index in the
// environment, as a Kubernetes Indexed Job or a Slurm array does, and
// checks the result against a local run.
func TestIndexedWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	s, path := writeSpec(t, slowSpec(5))
	want := reference(t, s)
	tests := []struct {
		env     string
		perTask int
	}{
		{"JOB_COMPLETION_INDEX", 1},
		{"SLURM_ARRAY_TASK_ID", 5}, // 24 cells in 5 tasks, the last one short
		{"AWS_BATCH_JOB_ARRAY_INDEX", 24},
	}
	for _, tt := range tests {
		root := t.TempDir()
		n := s.Tasks(tt.perTask)
		var cmds []*exec.Cmd
		for i := range n {
			cmd := workerCmd(t, path, root, tt.env+"="+strconv.Itoa(i), "SWEEP_TEST_PER_TASK="+strconv.Itoa(tt.perTask))
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cmds = append(cmds, cmd)
		}
		for i, cmd := range cmds {
			if err := cmd.Wait(); err != nil {
				t.Errorf("%s=%d: %v: %s", tt.env, i, err, cmd.Stderr)
			}
		}
		got, err := Gather(s, root)
		if err != nil {
			t.Fatal(err)
		}
		sameTable(t, got, want)
		checkCellsDir(t, s, root, s.Len())
	}
	// A task index past the end is refused (exit 2), as a usage error.
	cmd := workerCmd(t, path, t.TempDir(), "JOB_COMPLETION_INDEX=24")
	if st := exitStatus(cmd.Run()); st != ExitUsage {
		t.Errorf("index 24 of 24: exit %d, want %d", st, ExitUsage)
	}
}

// TestSameIndexTwice runs the same cell in two processes at once, and in
// eight goroutines at once, repeatedly: the file must always be one
// complete, valid record equal to the reference.
func TestSameIndexTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	s, path := writeSpec(t, slowSpec(30))
	root := t.TempDir()
	for round := 0; round < 3; round++ {
		os.Remove(s.CellPath(root, 3))
		a := workerCmd(t, path, root, "JOB_COMPLETION_INDEX=3")
		b := workerCmd(t, path, root, "JOB_COMPLETION_INDEX=3")
		if err := a.Start(); err != nil {
			t.Fatal(err)
		}
		if err := b.Start(); err != nil {
			t.Fatal(err)
		}
		if err := a.Wait(); err != nil {
			t.Errorf("round %d, first worker: %v: %s", round, err, a.Stderr)
		}
		if err := b.Wait(); err != nil {
			t.Errorf("round %d, second worker: %v: %s", round, err, b.Stderr)
		}
		if _, err := s.ReadCell(root, 3); err != nil {
			t.Errorf("round %d: %v", round, err)
		}
	}
	fast := mustParse(t, slowSpec(0))
	froot := t.TempDir()
	for round := 0; round < 20; round++ {
		os.Remove(fast.CellPath(froot, 3))
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for g := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[g] = fast.Run(context.Background(), RunOptions{Results: froot, Cells: []int{3}})
			}()
		}
		wg.Wait()
		for g, err := range errs {
			if err != nil {
				t.Errorf("round %d, goroutine %d: %v", round, g, err)
			}
		}
		if _, err := fast.ReadCell(froot, 3); err != nil {
			t.Errorf("round %d: %v", round, err)
		}
	}
	want := reference(t, s)
	got, _ := Gather(s, root)
	if r := got.Rows[3]; !sameRow(r, want.Rows[3]) {
		t.Errorf("cell 3 after concurrent writes: %+v, want %+v", r, want.Rows[3])
	}
	checkCellsDir(t, fast, froot, 1)
}

// sameRow compares two rows through their JSON form, ignoring compute time.
func sameRow(a, b Row) bool {
	a.Seconds, b.Seconds = 0, 0
	var x, y bytes.Buffer
	Table{Rows: []Row{a}}.WriteJSON(&x)
	Table{Rows: []Row{b}}.WriteJSON(&y)
	return x.String() == y.String()
}

// TestWorkerExitStatus checks the statuses a cluster acts on.
func TestWorkerExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	tests := []struct {
		settings string
		status   int
	}{
		{`{}`, ExitOK},
		{`{"synthetic": {"diverge": [0]}}`, ExitOK},
		{`{"synthetic": {"fail": [0]}}`, ExitPermanent},
		{`{"synthetic": {"transient": [0]}}`, ExitTransient},
	}
	for _, tt := range tests {
		_, path := writeSpec(t, `{"spec": {"arch": "fcn", "act": "erf", "depth": 1, "sw2": 1, "sb2": 0}, "kinds": ["synthetic"], "settings": `+tt.settings+`}`)
		cmd := workerCmd(t, path, t.TempDir(), "JOB_COMPLETION_INDEX=0")
		if st := exitStatus(cmd.Run()); st != tt.status {
			t.Errorf("settings %s: exit %d, want %d (%s)", tt.settings, st, tt.status, cmd.Stderr)
		}
	}
}
