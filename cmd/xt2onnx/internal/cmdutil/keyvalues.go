package cmdutil

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// KeyValues flattens v's JSON form into key/value rows in field order, so
// that a command's text output uses exactly its --json keys: nested
// objects as "parent.key", arrays of objects with a "name" field as
// "parent.NAME.key" (the name itself left out), other arrays as one
// space-separated value; null is "null".
func KeyValues(v any) ([][2]string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding the output: %w", err)
	}
	var rows [][2]string
	err = flattenRaw(b, "", "", &rows)
	return rows, err
}

// flattenRaw appends the rows of raw under prefix; skip is a field of an
// object left out (the "name" already in the key).
func flattenRaw(raw json.RawMessage, prefix, skip string, rows *[][2]string) error {
	raw = bytes.TrimSpace(raw)
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch {
	case len(raw) > 0 && raw[0] == '{':
		dec := json.NewDecoder(bytes.NewReader(raw))
		if _, err := dec.Token(); err != nil { // {
			return err
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			var val json.RawMessage
			if err := dec.Decode(&val); err != nil {
				return err
			}
			if tok.(string) == skip {
				continue
			}
			if err := flattenRaw(val, join(tok.(string)), "", rows); err != nil {
				return err
			}
		}
		return nil
	case len(raw) > 0 && raw[0] == '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return err
		}
		named := len(elems) > 0
		for _, e := range elems {
			var obj struct {
				Name *string `json:"name"`
			}
			if bytes.HasPrefix(bytes.TrimSpace(e), []byte("{")) && json.Unmarshal(e, &obj) == nil && obj.Name != nil {
				continue
			}
			named = false
		}
		if named {
			for _, e := range elems {
				var obj struct {
					Name string `json:"name"`
				}
				_ = json.Unmarshal(e, &obj)
				if err := flattenRaw(e, join(obj.Name), "name", rows); err != nil {
					return err
				}
			}
			return nil
		}
		vals := make([]string, len(elems))
		for i, e := range elems {
			vals[i] = scalar(e)
		}
		*rows = append(*rows, [2]string{prefix, strings.Join(vals, " ")})
		return nil
	}
	*rows = append(*rows, [2]string{prefix, scalar(raw)})
	return nil
}

// scalar renders a JSON scalar: strings unquoted, the rest as written.
func scalar(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	var s string
	if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}
