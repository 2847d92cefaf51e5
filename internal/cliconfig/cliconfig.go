package cliconfig

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

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("configuration")

// Field is one leaf of a bound Config: its key, flag, env names and help,
// and the struct field it sets.
type Field struct {
	Path  []string // yaml keys from the root; a last key "-" means not in the file
	Flag  string   // "" or "-": no flag
	Envs  []string
	Help  string
	Value reflect.Value
	// raw holds what flags set, applied last.
	raw []string
	// kind words the field's type and a valid value for errors.
	kind kind
}

// Key is the dotted config file key, e.g. "nats.urls".
func (f *Field) Key() string { return strings.Join(f.Path, ".") }

// Secret reports whether the field is kept out of the config file
// (yaml:"-"): it comes from env or a file only.
func (f *Field) Secret() bool { return f.Path[len(f.Path)-1] == "-" }

// Binder binds one Config struct to a command's flags, env and file.
type Binder struct {
	cmd      *cobra.Command
	fields   []*Field
	root     reflect.Value
	fileFlag string
	fileEnv  string
	file     string
}

// Bind registers cfg's flags on cmd (plus --config, whose env is fileEnv)
// and returns the binder; call Load in RunE. cfg is a pointer to a struct
// holding the defaults.
func Bind(cmd *cobra.Command, cfg any, fileEnv string) *Binder {
	rv := reflect.ValueOf(cfg).Elem()
	b := &Binder{cmd: cmd, root: rv, fileFlag: "config", fileEnv: fileEnv}
	b.walk(rv, nil)
	if h, ok := cfg.(Helper); ok {
		for key, help := range h.ConfigHelp() {
			if f := b.field(key); f != nil {
				f.Help = help
			}
		}
	}
	cmd.Flags().StringVar(&b.file, "config", "", fmt.Sprintf("YAML config file [env %s]", fileEnv))
	for _, f := range b.fields {
		if f.Flag == "" || f.Flag == "-" {
			continue
		}
		help := f.Help
		if len(f.Envs) > 0 {
			help += " [env " + strings.Join(f.Envs, ", ") + "]"
		}
		fl := cmd.Flags().VarPF(&flagValue{f: f}, f.Flag, "", help)
		if f.Value.Kind() == reflect.Bool {
			fl.NoOptDefVal = "true"
		}
	}
	return b
}

// Fields lists the bound leaves in struct order (the docs table and the
// secrets check walk them).
func (b *Binder) Fields() []*Field { return b.fields }

// Helper is implemented by a Config that embeds a section shared by several
// commands (e.g. the NATS connection) whose keys mean something particular
// to this command: ConfigHelp maps such a key ("nats.urls") to its help line,
// replacing the section's generic help tag.
type Helper interface {
	ConfigHelp() map[string]string
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

func (b *Binder) walk(v reflect.Value, path []string) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		key, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if sf.Anonymous && key == "" && opts == "inline" {
			// An embedded section: its keys sit beside the embedder's.
			b.walk(v.Field(i), path)
			continue
		}
		if key == "" {
			key = strings.ToLower(sf.Name)
		}
		p := append(append([]string(nil), path...), key)
		if !isLeaf(sf.Type) && sf.Tag.Get("flag") == "" && sf.Tag.Get("env") == "" {
			b.walk(v.Field(i), p)
			continue
		}
		f := &Field{Path: p, Flag: sf.Tag.Get("flag"), Help: sf.Tag.Get("help"), Value: v.Field(i),
			kind: kindOf(v.Field(i), sf.Tag.Get("example"))}
		if e := sf.Tag.Get("env"); e != "" {
			f.Envs = strings.Split(e, ",")
		}
		b.fields = append(b.fields, f)
	}
}

// Load applies the file (--config, else the fileEnv variable), then env,
// then flags.
func (b *Binder) Load() error {
	file := b.file
	if file == "" {
		file = os.Getenv(b.fileEnv)
	}
	if file != "" {
		if err := b.LoadFile(file); err != nil {
			return err
		}
	}
	for _, f := range b.fields {
		for _, name := range f.Envs {
			val, ok := os.LookupEnv(name)
			if !ok || val == "" {
				continue
			}
			if err := setValue(f.Value, val, true); err != nil {
				if f.Secret() {
					return fmt.Errorf("%w: env %s: %v", ErrConfig, name, f.textError(err, name+"="))
				}
				return fmt.Errorf("%w: env %s=%q (key %s): %v", ErrConfig, name, val, f.Key(), f.textError(err, name+"="))
			}
			break
		}
	}
	for _, f := range b.fields {
		if f.raw == nil {
			continue
		}
		if f.Value.Kind() == reflect.Slice {
			f.Value.Set(reflect.MakeSlice(f.Value.Type(), 0, len(f.raw)))
		}
		for _, r := range f.raw {
			if err := setValue(f.Value, r, false); err != nil {
				return fmt.Errorf("%w: --%s %q: %v", ErrConfig, f.Flag, r, f.textError(err, "--"+f.Flag+" "))
			}
		}
	}
	return nil
}

// LoadFile applies one YAML config file; unknown keys are an error naming
// the key, the line and the file.
func (b *Binder) LoadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: read config file: %v", ErrConfig, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%w: config file %s: %v", ErrConfig, path, err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return b.applyNode(path, doc.Content[0], nil)
}

func (b *Binder) applyNode(file string, n *yaml.Node, path []string) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("%w: config file %s line %d: %q must be a mapping", ErrConfig, file, n.Line, strings.Join(path, "."))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		p := append(append([]string(nil), path...), k.Value)
		key := strings.Join(p, ".")
		if f := b.field(key); f != nil {
			if err := decodeStrict(val, f.Value); err != nil {
				return fmt.Errorf("%w: config file %s line %d: key %s: %s", ErrConfig, file, val.Line, key, f.fileError(err))
			}
			continue
		}
		if !b.hasPrefix(key + ".") {
			return fmt.Errorf("%w: config file %s line %d: unknown key %q", ErrConfig, file, k.Line, key)
		}
		if err := b.applyNode(file, val, p); err != nil {
			return err
		}
	}
	return nil
}

func (b *Binder) field(key string) *Field {
	for _, f := range b.fields {
		if f.Key() == key && !f.Secret() {
			return f
		}
	}
	return nil
}

func (b *Binder) hasPrefix(prefix string) bool {
	for _, f := range b.fields {
		if strings.HasPrefix(f.Key(), prefix) {
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
			return errWant
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
			return errWant
		}
		v.SetBool(x)
	case reflect.Int, reflect.Int32, reflect.Int64:
		x, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return errWant
		}
		v.SetInt(x)
	case reflect.Float64:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return errWant
		}
		v.SetFloat(x)
	default:
		return fmt.Errorf("cannot be set from text (type %s): use the config file", v.Type())
	}
	return nil
}

// flagValue defers a flag's value until load, so flags beat env and file.
type flagValue struct{ f *Field }

func (fv *flagValue) String() string {
	if fv.f == nil || !fv.f.Value.IsValid() {
		return ""
	}
	v := fv.f.Value
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
	tmp := reflect.New(fv.f.Value.Type()).Elem()
	if err := setValue(tmp, s, false); err != nil {
		return fv.f.textError(err, "--"+fv.f.Flag+" ")
	}
	fv.f.raw = append(fv.f.raw, s)
	return nil
}

func (fv *flagValue) Type() string {
	switch v := fv.f.Value; {
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

// SetDefault sets the flag's field as its default would: below the config
// file, the environment and the flag itself, which Load applies over it.
// A caller holding only the cobra command reaches it through the flag's
// Value (interface{ SetDefault(string) error }): how a client's saved
// context supplies a value.
func (fv *flagValue) SetDefault(s string) error {
	if err := setValue(fv.f.Value, s, true); err != nil {
		return fv.f.textError(err, "")
	}
	return nil
}
