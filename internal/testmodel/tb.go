package testmodel

import "testing"

// Dir writes ByteLevelGPT2 into a fresh temporary directory of t (random
// weights when withWeights is set) and returns it; t fails on an error.
func Dir(t testing.TB, withWeights bool) string {
	t.Helper()
	dir := t.TempDir()
	if err := ByteLevelGPT2(dir, withWeights); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Topic writes TopicData (n examples) into dir and returns its path; t
// fails on an error.
func Topic(t testing.TB, dir string, n int) string {
	t.Helper()
	p, err := TopicData(dir, n)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
