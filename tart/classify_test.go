package tart

import (
	"os"
	"path/filepath"
	"testing"
)

func TestClassifyGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		op   Op
		exit int
		want error
	}{
		{"error-delete-missing-2.35.0.txt", OpDelete, 2, ErrNotFound},
		{"error-delete-missing-2.11.0.txt", OpDelete, 1, ErrNotFound},
		{"error-delete-missing-1.8.0.txt", OpDelete, 2, ErrNotFound},
		{"error-delete-running-2.35.0.txt", OpDelete, 1, ErrRunning},
		{"error-get-missing-2.35.0.txt", OpGet, 2, ErrNotFound},
		{"error-rename-missing-2.35.0.txt", OpRename, 64, ErrNotFound},
		{"error-rename-exists-2.35.0.txt", OpRename, 64, ErrExists},
		{"error-clone-missing-2.35.0.txt", OpClone, 2, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if got := classify(tt.op, tt.exit, string(b)); got != tt.want {
				t.Errorf("Got(classify(%s, %d, %q)) = %v, want %v", tt.op, tt.exit, b, got, tt.want)
			}
		})
	}
}

func TestClassifyCases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		op   Op
		exit int
		msg  string
		want error
	}{
		{"not running is not running", OpDelete, 2, `VM "a" is not running`, nil},
		{"already running", OpClone, 2, "VM is already running", ErrRunning},
		{"bare exit 2 on a VM op", OpGet, 2, "", ErrNotFound},
		{"exit 2 on list means nothing", OpList, 2, "", nil},
		{"old get of a missing VM", OpGet, 1, "UninitializedVMDirectoryError()", ErrNotFound},
		{"no such file outside delete", OpClone, 1, "No such file or directory", nil},
		{"directory initialized", OpClone, 1, "VM directory is already initialized, preventing overwrite", ErrExists},
		{"registry failure", OpPull, 1, "Error: unexpected HTTP status 401", nil},
		{"usage error", OpList, 64, "Error: Unknown option '--bogus'", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := classify(tt.op, tt.exit, tt.msg); got != tt.want {
				t.Errorf("Got(classify(%s, %d, %q)) = %v, want %v", tt.op, tt.exit, tt.msg, got, tt.want)
			}
		})
	}
}
