package tarttest

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// field is one key of a JSON object, in the order tart declares it.
type field struct {
	key   string
	value any // string, int or bool
}

// renderJSON prints objects as Swift's JSONEncoder with .prettyPrinted does
// on macOS: two-space indent, `"key" : value`, '/' escaped as `\/`, and an
// empty array as "[\n\n]". tart then print()s it, adding a newline.
func renderJSON(objs [][]field, array bool) string {
	var b strings.Builder
	indent := ""
	if array {
		b.WriteString("[\n")
		if len(objs) == 0 {
			b.WriteString("\n]\n")
			return b.String()
		}
		indent = "  "
	}
	for i, obj := range objs {
		b.WriteString(indent + "{\n")
		for j, f := range obj {
			fmt.Fprintf(&b, "%s  %s : %s", indent, swiftString(f.key), swiftValue(f.value))
			if j < len(obj)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
		if i < len(objs)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	if array {
		b.WriteString("]\n")
	}
	return b.String()
}

func swiftString(s string) string {
	b, _ := json.Marshal(s)
	return strings.ReplaceAll(string(b), "/", `\/`)
}

func swiftValue(v any) string {
	switch v := v.(type) {
	case string:
		return swiftString(v)
	case bool:
		if v {
			return "true"
		}
		return "false"
	default:
		return fmt.Sprint(v)
	}
}

// listFields is one `tart list --format json` entry as the version prints it.
func listFields(f features, r record) []field {
	src := r.Source
	if f.disk && src == "oci" {
		src = "OCI"
	}
	out := []field{{"Source", src}, {"Name", r.Name}}
	if f.disk {
		out = append(out, field{"Disk", r.DiskGB})
	}
	out = append(out, field{"Size", r.SizeGB})
	if f.sizeOnDisk {
		out = append(out, field{"SizeOnDisk", r.SizeGB})
	}
	if f.accessed {
		out = append(out, field{"Accessed", r.Accessed.UTC().Format(time.RFC3339)})
	}
	if f.running {
		out = append(out, field{"Running", r.State == "running"})
	}
	if f.state {
		out = append(out, field{"State", r.State})
	}
	return out
}

// getFields is `tart get NAME --format json` as the version prints it.
func getFields(f features, r record) []field {
	var out []field
	if f.getSize {
		out = append(out, field{"OS", r.OS})
	}
	out = append(out, field{"CPU", r.CPU}, field{"Memory", r.MemoryMB}, field{"Disk", r.DiskGB})
	if f.getDiskFormat {
		out = append(out, field{"DiskFormat", "raw"})
	}
	if f.getSize {
		out = append(out, field{"Size", fmt.Sprintf("%.3f", float64(r.SizeGB))})
	}
	out = append(out, field{"Display", "1024x768"})
	if f.running {
		out = append(out, field{"Running", r.State == "running"})
	}
	if f.state {
		out = append(out, field{"State", r.State})
	}
	return out
}

// renderText prints a list as tart's text table (without "Running").
func renderText(f features, recs []record) string {
	if len(recs) == 0 {
		return "\n"
	}
	rows := make([][]string, 0, len(recs)+1)
	var header []string
	for i, r := range recs {
		var row []string
		for _, fl := range listFields(f, r) {
			if fl.key == "Running" {
				continue
			}
			if i == 0 {
				header = append(header, fl.key)
			}
			row = append(row, fmt.Sprint(fl.value))
		}
		rows = append(rows, row)
	}
	rows = append([][]string{header}, rows...)
	widths := make([]int, len(header))
	for _, row := range rows {
		for j, c := range row {
			widths[j] = max(widths[j], len(c))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		for j, c := range row {
			fmt.Fprintf(&b, "%-*s ", widths[j], c)
		}
		b.WriteString("\n")
	}
	return b.String()
}
