package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ntkharness/ntkharness/internal/atomicfile"
	"github.com/ntkharness/ntkharness/nets"
)

// StateFile holds the History inside a checkpoint folder.
const StateFile = "state.json"

// SaveCheckpoint writes the network's parameters and the history to dir as
// one atomic unit: everything goes to a fresh sibling folder, the old
// folder is renamed to dir+".old", the new one into place, and the old one
// removed. A crash leaves dir or dir+".old" complete; LoadCheckpoint
// reads either.
func SaveCheckpoint(dir string, net *nets.Net, h *History) error {
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := net.Save(tmp); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("train: checkpoint: %v", err)
	}
	if err := atomicfile.WriteJSON(filepath.Join(tmp, StateFile), h); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("train: checkpoint: %v", err)
	}
	old := dir + ".old"
	if err := os.RemoveAll(old); err != nil {
		return err
	}
	if _, err := os.Stat(dir); err == nil {
		if err := os.Rename(dir, old); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	return os.RemoveAll(old)
}

// LoadCheckpoint reads a checkpoint written by SaveCheckpoint (falling back
// to dir+".old" when a save was cut short).
func LoadCheckpoint(dir string) (*nets.Net, *History, error) {
	if _, err := os.Stat(filepath.Join(dir, StateFile)); errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(dir+".old", StateFile)); err == nil {
			dir += ".old"
		} else {
			return nil, nil, fmt.Errorf("train: no checkpoint in %s (%s missing)", dir, StateFile)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		return nil, nil, fmt.Errorf("train: checkpoint: %v", err)
	}
	var h History
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, nil, fmt.Errorf("train: checkpoint %s: %v", filepath.Join(dir, StateFile), err)
	}
	if h.Step < 0 || h.LR <= 0 || h.NTrain < 1 {
		return nil, nil, fmt.Errorf("train: checkpoint %s: step %d, lr %v, n_train %d are not a valid state", filepath.Join(dir, StateFile), h.Step, h.LR, h.NTrain)
	}
	net, err := nets.Load(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("train: checkpoint: %v", err)
	}
	return net, &h, nil
}

// WriteHistory writes h as JSON and its points as CSV (step, train_loss,
// train_acc, test_loss, test_acc; NaN where unknown), both atomically.
func WriteHistory(jsonPath, csvPath string, h *History) error {
	if err := atomicfile.WriteJSON(jsonPath, h); err != nil {
		return err
	}
	return atomicfile.Write(csvPath, func(w io.Writer) error {
		if _, err := fmt.Fprintln(w, "step,train_loss,train_acc,test_loss,test_acc"); err != nil {
			return err
		}
		for _, p := range h.Points {
			if _, err := fmt.Fprintf(w, "%d,%.17g,%.17g,%.17g,%.17g\n", p.Step, float64(p.TrainLoss), float64(p.TrainAcc), float64(p.TestLoss), float64(p.TestAcc)); err != nil {
				return err
			}
		}
		return nil
	})
}
