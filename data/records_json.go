package data

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math"
	"strconv"
	"strings"
)

// Lines yields the lines of b with their numbers, counted from 1 and
// including the blank ones so that they match an editor's. A line excludes
// its '\n' (a CRLF line keeps its '\r'); a last line without one is
// yielded too.
func Lines(b []byte) iter.Seq2[int, []byte] {
	return func(yield func(int, []byte) bool) {
		rest := b
		for line := 1; len(rest) > 0; line++ {
			var raw []byte
			if i := bytes.IndexByte(rest, '\n'); i >= 0 {
				raw, rest = rest[:i], rest[i+1:]
			} else {
				raw, rest = rest, nil
			}
			if !yield(line, raw) {
				return
			}
		}
	}
}

// parseJSONL reads one JSON object per line. Lines are counted from 1 and
// include the blank ones, so Line matches an editor's line numbers.
func parseJSONL(s *recordSink, b []byte) error {
	for line, raw := range Lines(bytes.TrimPrefix(b, utf8BOM)) {
		raw = bytes.TrimSpace(raw) // also drops the \r of CRLF files
		if len(raw) == 0 {
			s.rep.BlankLines++
			continue
		}
		if err := parseJSONLine(s, line, raw); err != nil {
			return err
		}
	}
	return nil
}

func parseJSONLine(s *recordSink, line int, raw []byte) error {
	// encoding/json silently turns invalid UTF-8 inside strings into U+FFFD,
	// so check first.
	if at := invalidUTF8At(raw); at >= 0 {
		return s.errf(line, "invalid UTF-8 at byte %d of the line", at)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return s.errf(line, "not a JSON object (got %s): each line must be one {...} record", te.Value)
		}
		return s.errf(line, "malformed JSON: %s", oneLine(err.Error()))
	}
	if obj == nil { // the line was "null"
		return s.errf(line, "not a JSON object (got null): each line must be one {...} record")
	}
	text, err := jsonString(obj, s.opt.TextField, false)
	if err != nil {
		return s.errf(line, "%v", err)
	}
	if !text.ok {
		return s.errf(line, "no %q field (the object has: %s); set the text field name if it is called something else",
			s.opt.TextField, strings.Join(sortedKeys(obj), ", "))
	}
	label, err := jsonString(obj, s.opt.LabelField, true)
	if err != nil {
		return s.errf(line, "%v", err)
	}
	id, err := jsonString(obj, s.opt.IDField, true)
	if err != nil {
		return s.errf(line, "%v", err)
	}
	return s.add(line, text, label, id)
}

// jsonString reads obj[key] as a string; null or absent gives ok false. With
// integers true an integer is accepted and given as its decimal string, so
// that labels 0/1 and "0"/"1" are the same label.
func jsonString(obj map[string]json.RawMessage, key string, integers bool) (field, error) {
	raw, ok := obj[key]
	if !ok || string(raw) == "null" {
		return field{}, nil
	}
	switch c := raw[0]; {
	case c == '"':
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			return field{}, err
		}
		return field{v, true}, nil
	case integers && (c == '-' || c >= '0' && c <= '9'):
		v, err := CanonicalInteger(string(raw))
		if err != nil {
			return field{}, fmt.Errorf("field %q: %v", key, err)
		}
		return field{v, true}, nil
	}
	want := "a string"
	if integers {
		want = "a string or an integer"
	}
	return field{}, fmt.Errorf("field %q is %s, want %s", key, jsonKind(raw[0]), want)
}

// CanonicalInteger turns a JSON number into the decimal string of its
// integer value: 3, 3.0 and 3e0 all give "3", the label or id that
// ReadRecords gives a record whose field holds that number. A fraction is
// an error because a label 0.5 is almost certainly a regression target,
// not a class.
func CanonicalInteger(num string) (string, error) {
	if i, err := strconv.ParseInt(num, 10, 64); err == nil {
		return strconv.FormatInt(i, 10), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	// 2^53: above it float64 no longer holds every integer exactly.
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return "", fmt.Errorf("%s is not an integer", num)
	}
	return strconv.FormatInt(int64(f), 10), nil
}

// jsonKind names the JSON type that starts with c, for messages.
func jsonKind(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case '"':
		return "a string"
	}
	return "a number"
}

// oneLine keeps error text from breaking the one-line rule.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
