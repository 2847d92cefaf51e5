package main

import (
	"encoding"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

// Configuration binding. Every command has one Config struct whose leaf fields
// carry tags:
//
//	yaml:"key"    the key in the YAML config file (nested structs nest keys); "-": not in the file
//	flag:"name"   the command-line flag; "-": no flag (secrets come from env or files only)
//	env:"A,B"     environment variables, the first one set wins
//	help:"..."    one line for --help and the docs table
//
// Precedence is flag > env > file > default (the struct's value before binding).
// Unknown keys in the file are an error naming the key, the line and the file.

// errConfig is wrapped by every configuration error.
var errConfig = errors.New("configuration")

type configField struct {
	path []string // yaml keys from the root
	flag string
	envs []string
	help string
	v    reflect.Value
	// raw holds what flags set, applied last.
	raw []string
}

func (f *configField) key() string { return strings.Join(f.path, ".") }

// binder binds one Config struct to a command's flags, env and file.
type binder struct {
	cmd      *cobra.Command
	fields   []*configField
	root     reflect.Value
	fileFlag string
	fileEnv  string
	file     string
}

// bindConfig registers cfg's flags on cmd (plus --config, whose env is
// fileEnv) and returns the binder; call load in RunE.
func bindConfig(cmd *cobra.Command, cfg any, fileEnv string) *binder {
	rv := reflect.ValueOf(cfg).Elem()
	b := &binder{cmd: cmd, root: rv, fileFlag: "config", fileEnv: fileEnv}
	b.walk(rv, nil)
	cmd.Flags().StringVar(&b.file, "config", "", fmt.Sprintf("YAML config file [env %s]", fileEnv))
	for _, f := range b.fields {
		if f.flag == "" || f.flag == "-" {
			continue
		}
		help := f.help
		if len(f.envs) > 0 {
			help += " [env " + strings.Join(f.envs, ", ") + "]"
		}
		fl := cmd.Flags().VarPF(&flagValue{f: f}, f.flag, "", help)
		if f.v.Kind() == reflect.Bool {
			fl.NoOptDefVal = "true"
		}
	}
	return b
}

var (
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	durationType    = reflect.TypeFor[time.Duration]()
)

func isLeaf(t reflect.Type) bool {
	if reflect.PointerTo(t).Implements(textUnmarshaler) || t == durationType {
		return true
	}
	return t.Kind() != reflect.Struct
}

func (b *binder) walk(v reflect.Value, path []string) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		key, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if key == "" {
			key = strings.ToLower(sf.Name)
		}
		p := append(append([]string(nil), path...), key)
		if !isLeaf(sf.Type) && sf.Tag.Get("flag") == "" && sf.Tag.Get("env") == "" {
			b.walk(v.Field(i), p)
			continue
		}
		f := &configField{path: p, flag: sf.Tag.Get("flag"), help: sf.Tag.Get("help"), v: v.Field(i)}
		if e := sf.Tag.Get("env"); e != "" {
			f.envs = strings.Split(e, ",")
		}
		b.fields = append(b.fields, f)
	}
}

// load applies the file, then env, then flags.
func (b *binder) load() error {
	file := b.file
	if file == "" {
		file = os.Getenv(b.fileEnv)
	}
	if file != "" {
		if err := b.loadFile(file); err != nil {
			return err
		}
	}
	for _, f := range b.fields {
		for _, name := range f.envs {
			val, ok := os.LookupEnv(name)
			if !ok || val == "" {
				continue
			}
			if err := setValue(f.v, val, true); err != nil {
				return fmt.Errorf("%w: env %s=%q: %v", errConfig, name, val, err)
			}
			break
		}
	}
	for _, f := range b.fields {
		if f.raw == nil {
			continue
		}
		if f.v.Kind() == reflect.Slice {
			f.v.Set(reflect.MakeSlice(f.v.Type(), 0, len(f.raw)))
		}
		for _, r := range f.raw {
			if err := setValue(f.v, r, false); err != nil {
				return fmt.Errorf("%w: --%s %q: %v", errConfig, f.flag, r, err)
			}
		}
	}
	return nil
}

func (b *binder) loadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: read config file: %v", errConfig, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%w: config file %s: %v", errConfig, path, err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return b.applyNode(path, doc.Content[0], nil)
}

func (b *binder) applyNode(file string, n *yaml.Node, path []string) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("%w: config file %s line %d: %q must be a mapping", errConfig, file, n.Line, strings.Join(path, "."))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		p := append(append([]string(nil), path...), k.Value)
		key := strings.Join(p, ".")
		if f := b.field(key); f != nil {
			if err := decodeStrict(val, f.v); err != nil {
				return fmt.Errorf("%w: config file %s line %d: key %s: %v", errConfig, file, val.Line, key, err)
			}
			continue
		}
		if !b.hasPrefix(key + ".") {
			return fmt.Errorf("%w: config file %s line %d: unknown key %q", errConfig, file, k.Line, key)
		}
		if err := b.applyNode(file, val, p); err != nil {
			return err
		}
	}
	return nil
}

func (b *binder) field(key string) *configField {
	for _, f := range b.fields {
		if f.key() == key && f.path[len(f.path)-1] != "-" {
			return f
		}
	}
	return nil
}

func (b *binder) hasPrefix(prefix string) bool {
	for _, f := range b.fields {
		if strings.HasPrefix(f.key(), prefix) {
			return true
		}
	}
	return false
}

// decodeStrict decodes a YAML value into v, refusing unknown keys of nested structs.
func decodeStrict(n *yaml.Node, v reflect.Value) error {
	out, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(out)))
	dec.KnownFields(true)
	tmp := reflect.New(v.Type())
	if err := dec.Decode(tmp.Interface()); err != nil {
		return err
	}
	v.Set(tmp.Elem())
	return nil
}

// setValue parses s into v. For slices, env values split on commas and
// spaces and replace the slice; flag values append.
func setValue(v reflect.Value, s string, replace bool) error {
	if tu, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return tu.UnmarshalText([]byte(s))
	}
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("want a duration like 60s or 5m")
		}
		v.SetInt(int64(d))
		return nil
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		parts := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
		if replace {
			v.Set(reflect.MakeSlice(v.Type(), 0, len(parts)))
		}
		for _, p := range parts {
			v.Set(reflect.Append(v, reflect.ValueOf(p).Convert(v.Type().Elem())))
		}
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		x, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		v.SetBool(x)
	case reflect.Int, reflect.Int32, reflect.Int64:
		x, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("want a whole number")
		}
		v.SetInt(x)
	case reflect.Float64:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("want a number")
		}
		v.SetFloat(x)
	default:
		return fmt.Errorf("cannot be set from text (type %s): use the config file", v.Type())
	}
	return nil
}

// flagValue defers a flag's value until load, so flags beat env and file.
type flagValue struct{ f *configField }

func (fv *flagValue) String() string {
	if fv.f == nil || !fv.f.v.IsValid() {
		return ""
	}
	v := fv.f.v
	if m, ok := v.Interface().(encoding.TextMarshaler); ok {
		b, _ := m.MarshalText()
		return string(b)
	}
	if v.Kind() == reflect.Slice {
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = fmt.Sprint(v.Index(i).Interface())
		}
		return strings.Join(parts, ",")
	}
	if v.IsZero() {
		return ""
	}
	return fmt.Sprint(v.Interface())
}

func (fv *flagValue) Set(s string) error {
	// Check now, so a bad flag fails at parse time naming the flag.
	tmp := reflect.New(fv.f.v.Type()).Elem()
	if err := setValue(tmp, s, false); err != nil {
		return err
	}
	fv.f.raw = append(fv.f.raw, s)
	return nil
}

func (fv *flagValue) Type() string {
	switch v := fv.f.v; {
	case v.Type() == durationType:
		return "duration"
	case v.Kind() == reflect.Slice:
		return "list"
	case v.Kind() == reflect.Bool:
		return "bool"
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		return "int"
	}
	return "string"
}

// configDocs lists every command's Config (name → fresh default value), so
// the completeness test can check each field has a flag, an env name and a
// row in docs/configuration.md.
var configDocs = map[string]func() any{}
