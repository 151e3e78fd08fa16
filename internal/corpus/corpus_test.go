package corpus

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"unicode"
)

func TestGenerateDeterministic(t *testing.T) {
	a, b := Generate(1, 300), Generate(1, 300)
	if !slices.Equal(a, b) {
		t.Fatal("Generate(1, 300) differs between two calls")
	}
	if !slices.Equal(Generate(1, 40), a[:40]) {
		t.Error("Generate(1, 40) is not a prefix of Generate(1, 300)")
	}
	if slices.Equal(Generate(2, 40), a[:40]) {
		t.Error("seeds 1 and 2 give the same documents")
	}
	if len(Generate(1, 0)) != 0 {
		t.Error("Generate(1, 0) is not empty")
	}
}

// TestGolden pins the output: the recipe of the shipped model depends on
// it. If you change the generator on purpose, put the new hash here and say
// so in the commit, since every model pretrained before is now off-recipe.
func TestGolden(t *testing.T) {
	const want = "804f9e930d997cd7bc791fe45aaa46dbc7c702e14d56a44caef4648bacbafff5"
	h := sha256.New()
	for _, d := range Generate(1, 50) {
		fmt.Fprintf(h, "%s\t%s\n", d.Topic, d.Text)
	}
	fmt.Fprint(h, Pretraining(1, 5000))
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		t.Errorf("Generate(1, 50) and Pretraining(1, 5000) hash to %s, want %s", got, want)
	}
}

func TestPretraining(t *testing.T) {
	const n = 20_000
	text := Pretraining(1, n)
	if text != Pretraining(1, n) {
		t.Fatal("Pretraining(1, n) differs between two calls")
	}
	if len(text) < n || len(text) > n+1500 {
		t.Errorf("Pretraining(1, %d) has %d bytes, want about %d", n, len(text), n)
	}
	docs := strings.Split(text, "\n\n")
	if len(docs) < 20 {
		t.Errorf("%d documents in %d bytes, want them separated by blank lines", len(docs), len(text))
	}
	for _, d := range Generate(1, 200) {
		if strings.Contains(text, d.Text) {
			t.Fatalf("a document of Generate(1, ...) is in Pretraining(1, ...): %q", d.Text)
		}
	}
	if Pretraining(1, 0) != "" {
		t.Error("Pretraining(1, 0) is not empty")
	}
}

func TestTopicBalanceAndLength(t *testing.T) {
	const n = 5000
	count := map[string]int{}
	for i, d := range Generate(3, n) {
		count[d.Topic]++
		if w := len(strings.Fields(d.Text)); w < minWords || w > maxWords {
			t.Errorf("document %d has %d words, want %d to %d", i, w, minWords, maxWords)
		}
	}
	topics := Topics()
	if len(count) != len(topics) {
		t.Fatalf("labels %v, want %v", count, topics)
	}
	want := n / len(topics)
	for _, name := range topics {
		// Binomial sd is 28 for n=5000, p=0.2: 10% is 3.5 sd.
		if c := count[name]; math.Abs(float64(c-want)) > 0.1*float64(want) {
			t.Errorf("topic %s has %d documents, want %d ± 10%%", name, c, want)
		}
	}
	t.Logf("documents per topic: %v", count)
}

// tokens splits text into lower-case words of letters.
func tokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) })
}

func TestVocabularySize(t *testing.T) {
	types := map[string]int{}
	for _, d := range Generate(1, 5000) {
		for _, w := range tokens(d.Text) {
			types[w]++
		}
	}
	once := 0
	for _, c := range types {
		if c == 1 {
			once++
		}
	}
	t.Logf("%d word types in 5000 documents (%d seen once)", len(types), once)
	if len(types) < 1000 || len(types) > 2500 {
		t.Errorf("%d word types, want about 1,000 to 2,000", len(types))
	}
}

// TestBagOfWords trains multinomial naive Bayes (add-one smoothing) on half
// the documents and tests on the other half: the topics must be learnable
// from words, but not perfectly.
func TestBagOfWords(t *testing.T) {
	docs := Generate(5, 4000)
	train, test := docs[:2000], docs[2000:]
	topics := Topics()
	counts := make([]map[string]float64, len(topics))
	totals := make([]float64, len(topics))
	prior := make([]float64, len(topics))
	vocab := map[string]bool{}
	for i := range counts {
		counts[i] = map[string]float64{}
	}
	for _, d := range train {
		k := slices.Index(topics, d.Topic)
		prior[k]++
		for _, w := range tokens(d.Text) {
			counts[k][w]++
			totals[k]++
			vocab[w] = true
		}
	}
	correct := 0
	for _, d := range test {
		best, bestScore := -1, math.Inf(-1)
		for k := range topics {
			score := math.Log(prior[k])
			for _, w := range tokens(d.Text) {
				score += math.Log((counts[k][w] + 1) / (totals[k] + float64(len(vocab))))
			}
			if score > bestScore {
				best, bestScore = k, score
			}
		}
		if topics[best] == d.Topic {
			correct++
		}
	}
	acc := float64(correct) / float64(len(test))
	t.Logf("naive Bayes bag-of-words accuracy: %.3f (%d/%d)", acc, correct, len(test))
	if acc <= 0.6 || acc >= 0.995 {
		t.Errorf("bag-of-words accuracy %.3f, want between 0.6 and 0.995", acc)
	}
}

func BenchmarkGenerate(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("docs=%d", n), func(b *testing.B) {
			for b.Loop() {
				Generate(1, n)
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}

func BenchmarkPretraining(b *testing.B) {
	const n = 1_000_000
	b.SetBytes(n)
	for b.Loop() {
		Pretraining(1, n)
	}
}

func ExampleTopics() {
	fmt.Println(Topics())
	// Output: [weather sports cooking travel music]
}

func ExampleGenerate() {
	for _, d := range Generate(1, 3) {
		fmt.Println(d.Topic, len(strings.Fields(d.Text)))
	}
	// Output:
	// sports 118
	// weather 58
	// weather 61
}
