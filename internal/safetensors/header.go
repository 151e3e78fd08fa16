package safetensors

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// metadataKey is the reserved header key for free-form string metadata.
const metadataKey = "__metadata__"

// maxHeaderLen is the reference implementation's limit (MAX_HEADER_SIZE in
// safetensors/src/tensor.rs); a larger length means the file is not
// safetensors, and the limit keeps a corrupt length from allocating
// gigabytes.
const maxHeaderLen = 100_000_000

// entry is one tensor's header record, validated against its dtype.
type entry struct {
	name       string
	dt         *dtype
	shape      []int
	begin, end int64 // byte offsets in the data buffer
}

// member is one key of a JSON object, in file order.
type member struct {
	key string
	val json.RawMessage
}

// decodeObject splits a JSON object into its members in file order. Unlike
// json.Unmarshal into a map it keeps duplicate keys, so callers can reject
// them instead of silently keeping the last.
func decodeObject(data []byte) ([]member, error) {
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("not valid JSON: %v (at byte %d)", se, se.Offset)
		}
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("is a JSON %s, want an object", jsonKind(tok))
	}
	var members []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key := tok.(string) // json.Valid guarantees object keys are strings
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, fmt.Errorf("key %q: %v", key, err)
		}
		members = append(members, member{key, val})
	}
	return members, nil
}

// isNull reports whether a raw JSON value is null.
func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// jsonKind names the JSON type that starts with tok, for error messages.
func jsonKind(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		return "array"
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "boolean"
	}
	return "null"
}

// parseHeader validates a header's JSON and each tensor record on its own;
// checkLayout then checks the records against each other and the buffer.
func parseHeader(hdr []byte, opts ReadOptions) (map[string]string, []entry, error) {
	if !utf8.Valid(hdr) {
		return nil, nil, errors.New("header is not valid UTF-8")
	}
	members, err := decodeObject(hdr)
	if err != nil {
		return nil, nil, fmt.Errorf("header %v", err)
	}
	var meta map[string]string
	var entries []entry
	seen := make(map[string]bool, len(members))
	for _, m := range members {
		if seen[m.key] {
			return nil, nil, fmt.Errorf("header lists %q more than once", m.key)
		}
		seen[m.key] = true
		if m.key == metadataKey {
			if meta, err = parseMetadata(m.val); err != nil {
				return nil, nil, err
			}
			continue
		}
		e, err := parseEntry(m.key, m.val, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %v", m.key, err)
		}
		entries = append(entries, e)
	}
	return meta, entries, nil
}

// parseMetadata decodes __metadata__, an object of strings or null.
func parseMetadata(raw json.RawMessage) (map[string]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	members, err := decodeObject(raw)
	if err != nil {
		return nil, fmt.Errorf("header %s %v", metadataKey, err)
	}
	meta := make(map[string]string, len(members))
	for _, m := range members {
		var v string
		if err := json.Unmarshal(m.val, &v); err != nil {
			return nil, fmt.Errorf("header %s[%q] is %s, want a string", metadataKey, m.key, snippet(m.val))
		}
		meta[m.key] = v // a repeated key keeps the last value, as serde_json does
	}
	return meta, nil
}

// parseEntry decodes {"dtype": .., "shape": [..], "data_offsets": [b, e]}.
// Unknown fields are ignored, as the reference implementation does; field
// names are matched exactly (encoding/json alone would accept "DType").
func parseEntry(name string, raw json.RawMessage, opts ReadOptions) (entry, error) {
	members, err := decodeObject(raw)
	if err != nil {
		return entry{}, fmt.Errorf("header entry is %s, want an object with dtype, shape and data_offsets", snippet(raw))
	}
	fields := map[string]json.RawMessage{}
	for _, m := range members {
		if _, dup := fields[m.key]; dup {
			return entry{}, fmt.Errorf("header entry has %s more than once", m.key)
		}
		fields[m.key] = m.val
	}
	var dtypeName string
	var dims, off []int64
	for _, f := range []struct {
		key, want string
		dst       any
	}{
		{"dtype", "a string", &dtypeName},
		{"shape", "an array of integers", &dims},
		{"data_offsets", "[begin, end]", &off},
	} {
		v, ok := fields[f.key]
		if !ok || isNull(v) {
			return entry{}, fmt.Errorf("header entry has no %s", f.key)
		}
		if err := json.Unmarshal(v, f.dst); err != nil {
			return entry{}, fmt.Errorf("%s is %s, want %s", f.key, snippet(v), f.want)
		}
	}
	dt, err := lookupDtype(dtypeName)
	if err != nil {
		return entry{}, err
	}
	if dt.isInt() && !opts.Ints {
		return entry{}, fmt.Errorf("has integer dtype %s; read it with ReadOptions{Ints: true}", dt.name)
	}
	shape := make([]int, len(dims))
	for i, d := range dims {
		if d < 0 || d > math.MaxInt {
			return entry{}, fmt.Errorf("shape %v has invalid dimension %d", dims, d)
		}
		shape[i] = int(d)
	}
	if len(off) != 2 {
		return entry{}, fmt.Errorf("data_offsets %v must be [begin, end]", off)
	}
	begin, end := off[0], off[1]
	if begin < 0 || end < begin {
		return entry{}, fmt.Errorf("data_offsets [%d, %d] must satisfy 0 <= begin <= end", begin, end)
	}
	n, ok := byteSize(shape, dt)
	if !ok {
		return entry{}, fmt.Errorf("shape %v of %s is too large", shape, dt.name)
	}
	if n != end-begin {
		return entry{}, fmt.Errorf("data_offsets [%d, %d] give %d bytes but shape %v of %s needs %d", begin, end, end-begin, shape, dt.name, n)
	}
	return entry{name: name, dt: dt, shape: shape, begin: begin, end: end}, nil
}

// byteSize returns numel(shape)*dt.size, or false if that overflows int64.
func byteSize(shape []int, dt *dtype) (int64, bool) {
	n := int64(dt.size)
	for _, d := range shape {
		if d != 0 && n > math.MaxInt64/int64(d) {
			return 0, false
		}
		n *= int64(d)
	}
	return n, true
}

// checkLayout requires the tensors to tile the data buffer exactly: sorted
// by offset, each begins where the previous ends and the last ends at the
// buffer's end. The reference implementation (Metadata::validate) rejects
// holes, overlaps and trailing bytes the same way; holes would otherwise be a
// place to smuggle data past readers. It sorts entries by offset.
func checkLayout(entries []entry, bufLen int64) error {
	slices.SortStableFunc(entries, func(a, b entry) int {
		if a.begin != b.begin {
			return cmp.Compare(a.begin, b.begin)
		}
		return cmp.Compare(a.end, b.end)
	})
	var pos int64
	for i, e := range entries {
		switch {
		case e.end > bufLen:
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] run past the end of the %d-byte data buffer (file truncated?)", e.name, e.begin, e.end, bufLen)
		case e.begin < pos:
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] overlap tensor %q, which ends at %d", e.name, e.begin, e.end, entries[i-1].name, pos)
		case e.begin > pos:
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] leave bytes [%d, %d) of the data buffer unused", e.name, e.begin, e.end, pos, e.begin)
		}
		pos = e.end
	}
	if pos != bufLen {
		return fmt.Errorf("data buffer has %d bytes but the tensors cover only the first %d", bufLen, pos)
	}
	return nil
}

// snippet shortens JSON for a one-line error message.
func snippet(raw []byte) string {
	s := strings.Join(strings.Fields(string(raw)), " ")
	if n := 40; len(s) > n {
		for !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "..."
	}
	return s
}

// appendJSONString appends s as a JSON string without HTML escaping, so
// names with < > & look the same as in files from the reference writer.
func appendJSONString(dst []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // cannot fail for a string
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}
