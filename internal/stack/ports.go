package stack

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// PortClaim is a host port a service is about to bind.
type PortClaim struct {
	Service string
	Host    string // the address to bind, e.g. "127.0.0.1"; "" checks every address
	Port    int
}

// PortInUseError says a claimed port is taken, and by whom when that can be found out. It
// wraps the bind error, so errors.Is(err, syscall.EADDRINUSE) holds.
type PortInUseError struct {
	Service string
	Port    int
	// Holder names the process listening on the port, e.g. "pid 1234 (python3)"; "" when it
	// cannot be found (not Linux, or the process belongs to another user).
	Holder string
	Err    error // the error binding the port gave
}

func (e *PortInUseError) Error() string {
	by := ""
	if e.Holder != "" {
		by = " by " + e.Holder
	}
	return fmt.Sprintf("port %d (%s) is already in use%s; free it or run 'waooaw up --port-offset 100'", e.Port, e.Service, by)
}

func (e *PortInUseError) Unwrap() error { return e.Err }

// CheckPortsFree binds each claimed port and releases it at once, so a conflict is reported
// before anything starts, for every taken port together: a *PortInUseError for each, joined
// with errors.Join when there are several. Other bind failures (an address the host lacks, a
// privileged port) are returned as they are, wrapped with the service and port.
func CheckPortsFree(claims []PortClaim) error {
	var errs []error
	var taken []*PortInUseError
	for _, c := range claims {
		if c.Port <= 0 || c.Port > 65535 {
			errs = append(errs, fmt.Errorf("port %d (%s) is not a valid TCP port", c.Port, c.Service))
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(c.Host, strconv.Itoa(c.Port)))
		if err == nil {
			l.Close()
			continue
		}
		if errors.Is(err, syscall.EADDRINUSE) {
			e := &PortInUseError{Service: c.Service, Port: c.Port, Err: err}
			taken = append(taken, e)
			errs = append(errs, e)
			continue
		}
		errs = append(errs, fmt.Errorf("port %d (%s): %w", c.Port, c.Service, err))
	}
	if len(taken) > 0 {
		ports := make([]int, len(taken))
		for i, e := range taken {
			ports[i] = e.Port
		}
		holders := portHolders("/proc", ports)
		for _, e := range taken {
			e.Holder = holders[e.Port]
		}
	}
	if len(errs) == 1 {
		return errs[0] // as it is, so a caller can type-assert the single error
	}
	return errors.Join(errs...)
}

// tcpListen is the state /proc/net/tcp gives a listening socket.
const tcpListen = "0A"

// portHolders finds, from the proc file system at procRoot, which process listens on each
// of ports, as "pid 1234 (comm)". Ports it cannot attribute are left out: /proc is Linux's,
// and another user's processes cannot be looked into without privileges.
func portHolders(procRoot string, ports []int) map[int]string {
	inodePort := map[uint64]int{}
	for _, table := range []string{"net/tcp", "net/tcp6"} {
		f, err := os.Open(filepath.Join(procRoot, table))
		if err != nil {
			continue
		}
		found, _ := listeningInodes(f, ports)
		f.Close()
		for inode, port := range found {
			inodePort[inode] = port
		}
	}
	holders := map[int]string{}
	if len(inodePort) == 0 {
		return holders
	}
	for inode, p := range socketOwners(procRoot, inodePort) {
		port := inodePort[inode]
		if _, ok := holders[port]; !ok {
			holders[port] = p.String()
		}
	}
	return holders
}

// listeningInodes reads a /proc/net/tcp or /proc/net/tcp6 table and returns the inode of
// every listening socket on one of ports, with its port.
func listeningInodes(r io.Reader, ports []int) (map[uint64]int, error) {
	wanted := map[int]bool{}
	for _, p := range ports {
		wanted[p] = true
	}
	inodes := map[uint64]int{}
	sc := bufio.NewScanner(r)
	sc.Scan() // the header
	for sc.Scan() {
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode …
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[3] != tcpListen {
			continue
		}
		port, ok := localPort(f[1])
		if !ok || !wanted[port] {
			continue
		}
		inode, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil || inode == 0 {
			continue
		}
		inodes[inode] = port
	}
	return inodes, sc.Err()
}

// localPort reads the port of a local_address column, e.g. "0100007F:1F90" → 8080.
func localPort(addr string) (int, bool) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return 0, false
	}
	port, err := strconv.ParseUint(addr[i+1:], 16, 16)
	return int(port), err == nil
}

// socketInode reads the inode of an fd link such as "socket:[12345]".
func socketInode(link string) (uint64, bool) {
	s, ok := strings.CutPrefix(link, "socket:[")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "]")
	if !ok {
		return 0, false
	}
	inode, err := strconv.ParseUint(s, 10, 64)
	return inode, err == nil
}

// socketOwner is the process holding a socket: its pid and command name.
type socketOwner struct {
	pid  int
	comm string
}

func (p socketOwner) String() string {
	if p.comm == "" {
		return fmt.Sprintf("pid %d", p.pid)
	}
	return fmt.Sprintf("pid %d (%s)", p.pid, p.comm)
}

// socketOwners scans procRoot/[pid]/fd for the sockets in inodes and returns the process
// holding each one it can see; processes it may not look into are skipped.
func socketOwners(procRoot string, inodes map[uint64]int) map[uint64]socketOwner {
	owners := map[uint64]socketOwner{}
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return owners
	}
	for _, entry := range entries {
		pid, err := strconv.Atoi(entry.Name())
		if err != nil || pid <= 0 {
			continue
		}
		fdDir := filepath.Join(procRoot, entry.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil {
				continue
			}
			inode, ok := socketInode(link)
			if !ok {
				continue
			}
			if _, want := inodes[inode]; !want {
				continue
			}
			if _, seen := owners[inode]; seen {
				continue // a socket shared after fork: the first process found names it
			}
			comm, _ := os.ReadFile(filepath.Join(procRoot, entry.Name(), "comm"))
			owners[inode] = socketOwner{pid: pid, comm: strings.TrimSpace(string(comm))}
		}
		if len(owners) == len(inodes) {
			break
		}
	}
	return owners
}
