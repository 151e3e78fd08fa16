package train

import (
	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/nn"
)

// Task is the head a run trains (Config.Task), in the vocabulary of config
// files and flags. The model (nn.Task) and the data (data.Task) spell the
// same tasks their own way; Of and DataTask translate.
type Task string

// The values of Config.Task.
const (
	TaskModel          Task = ""               // the base model's own task and head
	TaskClassification Task = "classification" // one label per sequence: a classifier head
	TaskCausalLM       Task = "causal-lm"      // next-token prediction: the language-model head
)

// valid reports whether t is one of the tasks above.
func (t Task) valid() bool {
	return t == TaskModel || t == TaskClassification || t == TaskCausalLM
}

// UnmarshalText reads a task from a config file. The model's spelling of
// classification ("sequence-classification", as in a model's config.json)
// reads as classification, so that a file naming it still loads.
func (t *Task) UnmarshalText(b []byte) error {
	*t = Task(b)
	if *t == Task(nn.Classification) {
		*t = TaskClassification
	}
	return nil
}

// Of is the model task a run of task t trains on a base model of task base.
func (t Task) Of(base nn.Task) nn.Task {
	switch t {
	case TaskClassification:
		return nn.Classification
	case TaskCausalLM:
		return nn.CausalLM
	}
	return base
}

// DataTask is the data's name for model task m: how examples are read
// (labels for a classifier, token streams for a language model).
func DataTask(m nn.Task) data.Task {
	if m == nn.Classification {
		return data.Classification
	}
	return data.CausalLM
}
