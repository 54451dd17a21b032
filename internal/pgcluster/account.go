package pgcluster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// serverAccountName is the system user distribution packages create for PostgreSQL.
const serverAccountName = "postgres"

// account is the unprivileged system user the server programs run as when we are root,
// because PostgreSQL refuses to run as root. A nil *account means "the current user".
type account struct {
	name     string
	uid, gid uint32
	home     string
}

// serverAccount picks the account for the server programs given our effective user id.
func serverAccount(euid int) (*account, error) {
	if euid != 0 {
		return nil, nil
	}
	u, err := user.Lookup(serverAccountName)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		return nil, fmt.Errorf("running as root, and PostgreSQL refuses to run as root, but there is no %q "+
			"system user to run it as: install the postgresql package (it creates the user) or run as a normal user",
			serverAccountName)
	}
	if err != nil {
		return nil, fmt.Errorf("look up the %q system user: %w", serverAccountName, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q: uid %q: %w", u.Username, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q: gid %q: %w", u.Username, u.Gid, err)
	}
	return &account{name: u.Username, uid: uint32(uid), gid: uint32(gid), home: u.HomeDir}, nil
}

// sysProcAttr runs a program in its own process group (so a Ctrl-C meant for a foreground
// parent does not reach it separately; the parent decides when it stops) and as the account.
func (a *account) sysProcAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if a != nil {
		// An empty Groups list drops root's supplementary groups.
		attr.Credential = &syscall.Credential{Uid: a.uid, Gid: a.gid}
	}
	return attr
}

// env adjusts the environment for the account: variables naming the caller's home would
// point the server at a directory it cannot read.
func (a *account) env(base []string) []string {
	if a == nil {
		return base
	}
	return append(base, "HOME="+a.home, "USER="+a.name, "LOGNAME="+a.name)
}

// chown hands path to the account.
func (a *account) chown(path string) error {
	if a == nil {
		return nil
	}
	if err := os.Chown(path, int(a.uid), int(a.gid)); err != nil {
		return fmt.Errorf("hand %s to the %s user: %w", path, a.name, err)
	}
	return nil
}

// mkdir creates dir (and missing parents, traversable by anyone so the account can reach
// dir) and hands dir itself to the account with the given mode.
func (a *account) mkdir(dir string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(dir), err)
	}
	if err := os.Mkdir(dir, mode); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return a.chown(dir)
}

// checkReachable fails, with a message saying what to change, when the account cannot
// traverse every directory above path. Without it initdb would fail later with a bare
// "Permission denied" (typically for a data dir under /root or an os.MkdirTemp dir).
func (a *account) checkReachable(path string) error {
	if a == nil {
		return nil
	}
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		info, err := os.Stat(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("check %s: %w", dir, err)
		}
		// A missing directory is fine: mkdir creates it traversable.
		if err == nil && !a.canTraverse(info) {
			return fmt.Errorf("the %s user, which runs PostgreSQL because we run as root, cannot reach %s: "+
				"directory %s has mode %v; put the data in a directory it can traverse (chmod o+x %s)",
				a.name, path, dir, info.Mode().Perm(), dir)
		}
		if dir == filepath.Dir(dir) {
			return nil
		}
	}
}

func (a *account) canTraverse(info os.FileInfo) bool {
	perm := info.Mode().Perm()
	st, ok := info.Sys().(*syscall.Stat_t)
	switch {
	case perm&0o001 != 0:
		return true
	case !ok:
		return false
	case st.Uid == a.uid:
		return perm&0o100 != 0
	case st.Gid == a.gid:
		return perm&0o010 != 0
	}
	return false
}
