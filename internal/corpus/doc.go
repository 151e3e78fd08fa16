// Package corpus generates English text procedurally, deterministic in a
// seed, so that the project can pretrain a small base model and fine-tune
// it on a built-in task from a recipe in the repository, with nothing to
// download.
//
// Generate returns labelled documents (a paragraph of 40–120 words on one
// of Topics()), the fine-tuning task being topic classification; Pretraining
// returns running text of all topics for language modelling.
//
// Sentences come from frames, templates whose slots a small grammar fills
// (grammar.go): subjects with verbs that agree in person and number across
// six tenses, negation and contractions, noun phrases with determiners,
// adjectives and plurals, prepositional and time phrases that match the
// tense, numbers, names, quotations and embedded clauses. Each topic has its
// own vocabulary and frames (topics.go); all topics also fill a common set
// of frames (lexicon.go), and share the general vocabulary, so topics differ
// in words and constructions, not in layout. About 15% of a document's
// sentences come from the neutral pool or from one other topic: a few in
// most documents (whose first sentence is always on topic), nearly half in
// the tenth that blend two topics. A bag of words classifies most documents
// but not all (naive Bayes: about 97%).
//
// The word lists are Go source so that the recipe is one commit. Changing a
// list, a frame or a probability changes every document after the first
// one it touches; TestGolden pins the output.
package corpus
