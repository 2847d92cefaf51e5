package cliconfig

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// kind is what a field takes, worded for an error ("a duration"), and one
// valid value of it, as text: the field's default when it has one (a value
// the operator can trust), else a plain one of its type. A field's
// `example:"..."` tag gives the file's example instead (a YAML value).
type kind struct {
	what    string
	example string   // flag and env text
	list    []string // the example of a list, one item each
	yaml    string   // the file's example value, when not derived from example
	text    bool     // example is text, which YAML may need quoted
}

// kindOf describes v, whose current value is the field's default.
func kindOf(v reflect.Value, tag string) kind {
	k := kindOfType(v)
	if tag != "" {
		k.yaml = tag
	}
	return k
}

func kindOfType(v reflect.Value) kind {
	if m, ok := v.Interface().(encoding.TextMarshaler); ok && reflect.PointerTo(v.Type()).Implements(textUnmarshaler) {
		k := kind{what: "text", example: "...", text: true}
		if b, err := m.MarshalText(); err == nil && len(b) > 0 {
			k.example = string(b)
		}
		return k
	}
	switch {
	case v.Type() == durationType:
		d := time.Duration(v.Int())
		if d <= 0 {
			d = 30 * time.Second
		}
		return kind{what: "a duration", example: shortDuration(d)}
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		k := kind{what: "a list"}
		for i := 0; i < v.Len() && i < 3; i++ {
			k.list = append(k.list, v.Index(i).String())
		}
		if len(k.list) == 0 {
			k.list = []string{"a", "b"}
		}
		k.example = strings.Join(k.list, ",")
		return k
	}
	switch v.Kind() {
	case reflect.Bool:
		return kind{what: "true or false", example: "true"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		k := kind{what: "a whole number", example: "10"}
		if v.Int() != 0 {
			k.example = strconv.FormatInt(v.Int(), 10)
		}
		return k
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		k := kind{what: "a whole number", example: "10"}
		if v.Uint() != 0 {
			k.example = strconv.FormatUint(v.Uint(), 10)
		}
		return k
	case reflect.Float32, reflect.Float64:
		k := kind{what: "a number", example: "0.5"}
		if v.Float() != 0 {
			k.example = strconv.FormatFloat(v.Float(), 'g', -1, 64)
		}
		return k
	case reflect.String:
		k := kind{what: "text", example: "...", text: true}
		if v.String() != "" {
			k.example = v.String()
		}
		return k
	}
	return kind{what: "a " + v.Type().String()}
}

// shortDuration writes d as Go duration text without the zero units
// String keeps ("5m", not "5m0s").
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// fileExample is a valid line of the config file for the key's last part.
func (k kind) fileExample(key string) string {
	last := key[strings.LastIndexByte(key, '.')+1:]
	switch {
	case k.yaml != "":
		return last + ": " + k.yaml
	case k.list != nil:
		q := make([]string, len(k.list))
		for i, s := range k.list {
			q[i] = yamlScalar(s)
		}
		return last + ": [" + strings.Join(q, ", ") + "]"
	case k.example == "":
		return ""
	case k.text:
		return last + ": " + yamlScalar(k.example)
	}
	return last + ": " + k.example
}

// yamlScalar writes s as YAML would, quoted when it must be.
func yamlScalar(s string) string {
	b, err := yaml.Marshal(s)
	if err != nil {
		return strconv.Quote(s)
	}
	return strings.TrimSpace(string(b))
}

// yamlTypeRe matches yaml.v3's "cannot unmarshal !!str `five` into time.Duration".
var yamlTypeRe = regexp.MustCompile("cannot unmarshal !!(\\w+)(?: `(.*)`)? into (\\S+)")

// fileError words a YAML decoding error of key on one line: what was
// found, what the key takes, and a valid line.
func (f *Field) fileError(err error) string {
	msg := err.Error()
	if te, ok := errors.AsType[*yaml.TypeError](err); ok {
		parts := make([]string, 0, len(te.Errors))
		for _, e := range te.Errors {
			// Line numbers of a TypeError count from the key's value,
			// not the file: the caller names the file's line.
			if _, rest, ok := strings.Cut(e, ": "); ok && strings.HasPrefix(e, "line ") {
				e = rest
			}
			if m := yamlTypeRe.FindStringSubmatch(e); m != nil {
				got := yamlTagWord(m[1])
				if m[2] != "" {
					got = strconv.Quote(m[2])
				}
				e = fmt.Sprintf("got %s, want %s", got, f.kind.what)
			}
			parts = append(parts, e)
		}
		msg = strings.Join(parts, "; ")
	}
	msg = strings.ReplaceAll(strings.TrimPrefix(msg, "yaml: "), "\n", " ")
	if ex := f.kind.fileExample(f.Key()); ex != "" {
		msg += "; a valid line: " + ex
	}
	return msg
}

func yamlTagWord(tag string) string {
	switch tag {
	case "map":
		return "a mapping"
	case "seq":
		return "a list"
	case "null":
		return "nothing"
	}
	return "a " + tag
}

// textError words a flag's or env variable's bad value: what the key
// takes and a valid setting (e.g. "--interval 5m" or "VMFLEET_X=5m").
func (f *Field) textError(err error, set string) error {
	if errors.Is(err, errWant) {
		return fmt.Errorf("want %s, e.g. %s%s", f.kind.what, set, f.kind.example)
	}
	return err
}

// errWant marks setValue's "not of this kind" errors, which textError words.
var errWant = errors.New("want")
