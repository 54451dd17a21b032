package stack

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// A /proc/net/tcp sample: 127.0.0.1:8090 and 0.0.0.0:5432 listening, an established
// connection from 8090 and a TIME_WAIT socket (inode 0) on 6379.
const procNetTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F9A 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41234 1 0000000000000000 100 0 0 10 0
   1: 00000000:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   109        0 22222 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1F9A 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000  1000        0 55555 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:18EB 0100007F:A1B2 06 00000000:00000000 03:00001622 00000000     0        0 0 3 0000000000000000
`

// A /proc/net/tcp6 sample: [::]:8001 and [::1]:8090 listening.
const procNetTCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F41 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 77001 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:1F9A 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 77002 1 0000000000000000 100 0 0 10 0
`

func TestListeningInodes(t *testing.T) {
	tests := []struct {
		name  string
		table string
		ports []int
		want  map[uint64]int
	}{
		{"listening port", procNetTCP, []int{8090}, map[uint64]int{41234: 8090}},
		{"several ports", procNetTCP, []int{8090, 5432}, map[uint64]int{41234: 8090, 22222: 5432}},
		{"only TIME_WAIT on the port", procNetTCP, []int{6379}, map[uint64]int{}},
		{"port nobody listens on", procNetTCP, []int{9999}, map[uint64]int{}},
		{"tcp6", procNetTCP6, []int{8001, 8090}, map[uint64]int{77001: 8001, 77002: 8090}},
		{"header only", strings.SplitAfter(procNetTCP, "\n")[0], []int{8090}, map[uint64]int{}},
		{"empty", "", []int{8090}, map[uint64]int{}},
		{"short and garbled lines", procNetTCP + "garbage\n   9: zz:zz 0 0A a b c d e notanumber\n", []int{8090}, map[uint64]int{41234: 8090}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := listeningInodes(strings.NewReader(tt.table), tt.ports)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Fatalf("listeningInodes = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSocketInode(t *testing.T) {
	tests := []struct {
		link  string
		inode uint64
		ok    bool
	}{
		{"socket:[41234]", 41234, true},
		{"socket:[]", 0, false},
		{"socket:[12x]", 0, false},
		{"socket:[41234", 0, false},
		{"pipe:[41234]", 0, false},
		{"/dev/null", 0, false},
		{"anon_inode:[eventpoll]", 0, false},
	}
	for _, tt := range tests {
		inode, ok := socketInode(tt.link)
		if inode != tt.inode || ok != tt.ok {
			t.Errorf("socketInode(%q) = %d, %v; want %d, %v", tt.link, inode, ok, tt.inode, tt.ok)
		}
	}
}

// fakeProc builds a proc tree: the two tables, and processes with fd symlinks.
func fakeProc(t *testing.T, procs map[int][]string, comms map[int]string) string {
	t.Helper()
	root := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("net/tcp", procNetTCP)
	write("net/tcp6", procNetTCP6)
	write("self/comm", "ignored\n") // not a pid
	for pid, links := range procs {
		dir := filepath.Join(root, fmt.Sprint(pid), "fd")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, link := range links {
			if err := os.Symlink(link, filepath.Join(dir, fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		if comm, ok := comms[pid]; ok {
			write(filepath.Join(fmt.Sprint(pid), "comm"), comm+"\n")
		}
	}
	return root
}

func TestPortHolders(t *testing.T) {
	root := fakeProc(t,
		map[int][]string{
			1234: {"/dev/null", "socket:[99]", "socket:[41234]"},
			4321: {"pipe:[7]", "socket:[77001]"},
			555:  {"socket:[22222]"}, // no comm file
			777:  {"socket:[55555]"}, // the established connection, not the listener
		},
		map[int]string{1234: "python3", 4321: "node", 777: "curl"},
	)
	got := portHolders(root, []int{8090, 8001, 5432, 6379, 9999})
	want := map[int]string{8090: "pid 1234 (python3)", 8001: "pid 4321 (node)", 5432: "pid 555"}
	if !maps.Equal(got, want) {
		t.Fatalf("portHolders = %v, want %v", got, want)
	}

	if got := portHolders(filepath.Join(root, "missing"), []int{8090}); len(got) != 0 {
		t.Fatalf("portHolders without /proc = %v, want none", got)
	}
}

func TestPortInUseErrorMessage(t *testing.T) {
	tests := []struct {
		err  *PortInUseError
		want string
	}{
		{&PortInUseError{Service: "gateway", Port: 8090, Holder: "pid 1234 (python3)"},
			"port 8090 (gateway) is already in use by pid 1234 (python3); free it or run 'waooaw up --port-offset 100'"},
		{&PortInUseError{Service: "redis", Port: 6379},
			"port 6379 (redis) is already in use; free it or run 'waooaw up --port-offset 100'"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// hold listens on a free loopback port for the length of the test.
func hold(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// freePort returns a loopback port nobody listened on a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestCheckPortsFreeNamesTheHolder(t *testing.T) {
	port := hold(t)
	err := CheckPortsFree([]PortClaim{
		{Service: "backend", Host: "127.0.0.1", Port: freePort(t)},
		{Service: "gateway", Host: "127.0.0.1", Port: port},
	})
	var inUse *PortInUseError
	if !errors.As(err, &inUse) {
		t.Fatalf("CheckPortsFree = %v, want a *PortInUseError", err)
	}
	if inUse.Service != "gateway" || inUse.Port != port {
		t.Fatalf("PortInUseError = %+v, want gateway on %d", inUse, port)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("CheckPortsFree = %v, want it to wrap EADDRINUSE", err)
	}
	msg := err.Error()
	for _, part := range []string{fmt.Sprintf("port %d (gateway)", port), "--port-offset"} {
		if !strings.Contains(msg, part) {
			t.Errorf("message %q does not contain %q", msg, part)
		}
	}
	if runtime.GOOS != "linux" {
		return // the holder is found through Linux's /proc only
	}
	if want := fmt.Sprintf("in use by pid %d (", os.Getpid()); !strings.Contains(msg, want) {
		t.Errorf("message %q does not name this process (%q)", msg, want)
	}
}

func TestCheckPortsFreeReportsEveryTakenPort(t *testing.T) {
	a, b := hold(t), hold(t)
	err := CheckPortsFree([]PortClaim{
		{Service: "cp", Port: a}, // every address: taken, as 127.0.0.1 is
		{Service: "backend", Host: "127.0.0.1", Port: freePort(t)},
		{Service: "pp", Host: "127.0.0.1", Port: b},
	})
	if err == nil {
		t.Fatal("CheckPortsFree = nil with two ports taken")
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("CheckPortsFree = %T %v, want errors joined", err, err)
	}
	var got []string
	for _, e := range joined.Unwrap() {
		var inUse *PortInUseError
		if !errors.As(e, &inUse) {
			t.Fatalf("joined error %v is no *PortInUseError", e)
		}
		got = append(got, fmt.Sprintf("%s:%d", inUse.Service, inUse.Port))
	}
	want := []string{fmt.Sprintf("cp:%d", a), fmt.Sprintf("pp:%d", b)}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("taken ports = %v, want %v", got, want)
	}
}

func TestCheckPortsFreeWhenFree(t *testing.T) {
	if err := CheckPortsFree([]PortClaim{{Service: "backend", Host: "127.0.0.1", Port: freePort(t)}}); err != nil {
		t.Fatalf("CheckPortsFree on a free port = %v", err)
	}
	if err := CheckPortsFree(nil); err != nil {
		t.Fatalf("CheckPortsFree(nil) = %v", err)
	}
}

func TestCheckPortsFreeRejectsInvalidPorts(t *testing.T) {
	err := CheckPortsFree([]PortClaim{{Service: "gateway", Port: 0}, {Service: "cp", Port: 70000}})
	if err == nil || !strings.Contains(err.Error(), "port 0 (gateway)") || !strings.Contains(err.Error(), "port 70000 (cp)") {
		t.Fatalf("CheckPortsFree with invalid ports = %v", err)
	}
	var inUse *PortInUseError
	if errors.As(err, &inUse) {
		t.Fatalf("an invalid port reported as in use: %v", err)
	}
}
