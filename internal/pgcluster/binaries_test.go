package pgcluster_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/waooaw/waooaw/internal/pgcluster"
	"github.com/waooaw/waooaw/internal/pgtest"
)

var versionShape = regexp.MustCompile(`^\d+(\.\d+)*$`)

func TestFindBinaries(t *testing.T) {
	tests := []struct {
		name   string
		getenv func(string) string
	}{
		{"from PATH", os.Getenv},
		{"empty PATH falls back to the install folders", func(string) string { return "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pgtest.Binaries(t) // skips (or fails under CI) where PostgreSQL is not installed

			bin, err := pgcluster.FindBinaries(tt.getenv)
			if err != nil {
				t.Fatalf("FindBinaries: %v", err)
			}
			for _, program := range []string{"initdb", "postgres", "pg_ctl"} {
				if _, err := os.Stat(filepath.Join(bin.Dir, program)); err != nil {
					t.Errorf("Dir %s lacks %s: %v", bin.Dir, program, err)
				}
			}
			if !versionShape.MatchString(bin.Version) {
				t.Errorf("Version = %q, want a version number like 15.18", bin.Version)
			}
		})
	}
}

func TestFindBinariesFollowsPATHLinksToTheRealDir(t *testing.T) {
	real := pgtest.Binaries(t)
	realDir, err := filepath.EvalSymlinks(real.Dir)
	if err != nil {
		t.Fatal(err)
	}
	linkDir := t.TempDir()
	for _, program := range []string{"initdb", "postgres", "pg_ctl"} {
		if err := os.Symlink(filepath.Join(realDir, program), filepath.Join(linkDir, program)); err != nil {
			t.Fatal(err)
		}
	}

	// No install folders: PATH alone must find them.
	bin, err := pgcluster.FindBinariesIn(env("PATH", t.TempDir()+string(filepath.ListSeparator)+linkDir), nil)
	if err != nil {
		t.Fatalf("FindBinariesIn: %v", err)
	}
	if bin.Dir != realDir {
		t.Errorf("Dir = %s, want the links' target %s (initdb finds postgres beside its real file)", bin.Dir, realDir)
	}
}

func TestFindBinariesPicksTheHighestVersion(t *testing.T) {
	root := t.TempDir()
	for _, version := range []string{"9.6", "16", "15"} {
		fakeServerPrograms(t, filepath.Join(root, version, "bin"), version+".2")
	}

	bin, err := pgcluster.FindBinariesIn(env("PATH", ""), []string{filepath.Join(root, "*", "bin")})
	if err != nil {
		t.Fatalf("FindBinariesIn: %v", err)
	}
	if want := filepath.Join(root, "16", "bin"); bin.Dir != want {
		t.Errorf("Dir = %s, want %s", bin.Dir, want)
	}
	if bin.Version != "16.2" {
		t.Errorf("Version = %q, want 16.2", bin.Version)
	}
}

func TestFindBinariesNotFound(t *testing.T) {
	emptyPATH := t.TempDir()
	incomplete := filepath.Join(t.TempDir(), "17", "bin")
	fakeServerPrograms(t, incomplete, "17.0")
	if err := os.Remove(filepath.Join(incomplete, "pg_ctl")); err != nil {
		t.Fatal(err)
	}

	_, err := pgcluster.FindBinariesIn(env("PATH", emptyPATH), []string{filepath.Join(filepath.Dir(filepath.Dir(incomplete)), "*", "bin")})
	if !errors.Is(err, pgcluster.ErrBinariesNotFound) {
		t.Fatalf("err = %v, want ErrBinariesNotFound", err)
	}
	for _, hint := range []string{"apt-get install postgresql", "brew install postgresql@16", "initdb"} {
		if !strings.Contains(err.Error(), hint) {
			t.Errorf("error %q does not say %q", err, hint)
		}
	}
}

// fakeServerPrograms writes stand-ins for the server programs whose postgres reports version.
func fakeServerPrograms(t *testing.T, dir, version string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	scripts := map[string]string{
		"postgres": "#!/bin/sh\necho 'postgres (PostgreSQL) " + version + " (Fake 1)'\n",
		"initdb":   "#!/bin/sh\nexit 1\n",
		"pg_ctl":   "#!/bin/sh\nexit 1\n",
	}
	for name, script := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func env(name, value string) func(string) string {
	return func(key string) string {
		if key == name {
			return value
		}
		return ""
	}
}
