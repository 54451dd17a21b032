package pgcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ErrBinariesNotFound means no directory holding initdb, postgres and pg_ctl was found.
var ErrBinariesNotFound = errors.New("PostgreSQL server binaries (initdb, postgres, pg_ctl) not found")

// InstallHint tells a person how to get the server binaries FindBinaries looks for.
const InstallHint = "install PostgreSQL server binaries: apt-get install postgresql (Debian/Ubuntu), " +
	"brew install postgresql@16 (macOS), or put initdb and postgres on PATH"

// Binaries is a directory of PostgreSQL server programs and the version they report.
type Binaries struct {
	Dir     string // holds initdb, postgres and pg_ctl
	Version string // from `postgres --version`, e.g. "15.18"
}

// SearchPatterns returns the glob patterns of the usual install folders, in the order
// FindBinaries tries them after PATH. Where a pattern matches several versions the highest
// is tried first.
func SearchPatterns() []string {
	return []string{
		"/usr/lib/postgresql/*/bin",          // Debian, Ubuntu (PGDG and distro packages)
		"/usr/pgsql-*/bin",                   // RHEL, Fedora (PGDG packages)
		"/usr/local/pgsql/bin",               // built from source
		"/opt/homebrew/opt/postgresql@*/bin", // Homebrew on Apple silicon, keg-only formulae
		"/usr/local/opt/postgresql@*/bin",    // Homebrew on Intel
		"/opt/homebrew/bin",
		"/Applications/Postgres.app/Contents/Versions/latest/bin",
	}
}

// FindBinaries locates the server programs: on PATH first (as getenv reports it), then in the
// usual install folders (SearchPatterns).
func FindBinaries(getenv func(string) string) (Binaries, error) {
	return FindBinariesIn(getenv, SearchPatterns())
}

// FindBinariesIn is FindBinaries with the install folders given as glob patterns.
func FindBinariesIn(getenv func(string) string, patterns []string) (Binaries, error) {
	for _, dir := range candidateDirs(getenv("PATH"), patterns) {
		if !holdsServerPrograms(dir) {
			continue
		}
		version, err := serverVersion(dir)
		if err != nil {
			return Binaries{}, err
		}
		return Binaries{Dir: dir, Version: version}, nil
	}
	return Binaries{}, fmt.Errorf("%w on PATH or in %s; %s",
		ErrBinariesNotFound, strings.Join(patterns, ", "), InstallHint)
}

// candidateDirs lists the directories worth checking, best first.
func candidateDirs(path string, patterns []string) []string {
	var dirs []string
	for _, dir := range filepath.SplitList(path) {
		// An empty PATH entry means the working directory; never run a server from there.
		if dir == "" {
			continue
		}
		// Package managers link initdb into a shared bin dir (Homebrew's /opt/homebrew/bin,
		// /usr/local/bin here); initdb finds postgres beside its real file, so prefer that dir.
		if real, err := filepath.EvalSymlinks(filepath.Join(dir, "initdb")); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
		dirs = append(dirs, dir)
	}
	for _, pattern := range patterns {
		matches, _ := filepath.Glob(pattern) // the only error is a malformed pattern
		slices.SortFunc(matches, func(a, b string) int { return compareNumbers(b, a) })
		dirs = append(dirs, matches...)
	}
	return dirs
}

func holdsServerPrograms(dir string) bool {
	for _, name := range []string{"initdb", "postgres", "pg_ctl"} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

var versionPattern = regexp.MustCompile(`\(PostgreSQL\) (\d+(?:\.\d+)*)`)

func serverVersion(dir string) (string, error) {
	program := filepath.Join(dir, "postgres")
	out, err := exec.Command(program, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("run %s --version: %w", program, err)
	}
	m := versionPattern.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("run %s --version: unrecognised output %q", program, strings.TrimSpace(string(out)))
	}
	return string(m[1]), nil
}

var numberPattern = regexp.MustCompile(`\d+`)

// compareNumbers orders strings by the numbers in them, so "postgresql/9.6" < "postgresql/16".
func compareNumbers(a, b string) int {
	return slices.CompareFunc(numbers(a), numbers(b), func(x, y int) int { return x - y })
}

func numbers(s string) []int {
	var ns []int
	for _, digits := range numberPattern.FindAllString(s, -1) {
		n, _ := strconv.Atoi(digits) // digits only; overflow saturates harmlessly for ordering
		ns = append(ns, n)
	}
	return ns
}
