package docker

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
)

// fakeEngine is a Docker Engine API server on httptest: it answers the endpoints engineClient
// uses as the daemon does — status codes, JSON error bodies, progress streams, multiplexed
// logs — and records every call, so tests drive the real Docker client through the error paths
// a real daemon produces only with effort (a refused pull, a port taken, an OOM kill).
type fakeEngine struct {
	t   *testing.T
	srv *httptest.Server
	// apiVersion is what /_ping announces; the client negotiates down to it.
	apiVersion string
	// closing ends the log streams that follow, so the server can shut down.
	closing chan struct{}

	mu       sync.Mutex
	calls    []string
	versions map[string]bool // API version prefixes the client used
	// images are the refs present, as the client names them in /images/{ref}/json.
	images map[string]bool
	// pulls answers POST /images/create for a ref (familiar form, name:tag); a ref without an
	// entry pulls fine and is then present.
	pulls map[string]fakeReply
	// builds are the build contexts received, file name → content.
	builds   []map[string]fakeFile
	buildErr string
	networks map[string]bool
	volumes  map[string]bool
	// containers by name.
	containers map[string]*fakeContainer
	// afterStart is the state a container takes when started (default: running), by name.
	afterStart map[string]fakeState
	// logs are each container's log lines, by name; they outlive the container, as a test
	// sets them up before the runtime creates it.
	logs        map[string][]fakeLogLine
	logsChanged chan struct{} // closed and replaced when a line is added
	// overrides answer "METHOD /path" (without the version prefix) instead of the fake's logic.
	overrides map[string]fakeReply
}

// fakeReply is one answer of the daemon: an error status with its message, or a 200 progress
// stream of JSON messages.
type fakeReply struct {
	status  int
	message string   // the JSON error's message, for a status >= 400
	stream  []string // JSON messages, for a 200 stream
}

type fakeState struct {
	Status    string
	Running   bool
	ExitCode  int
	OOMKilled bool
	Error     string
}

type fakeContainer struct {
	id      string
	image   string
	labels  map[string]string
	state   fakeState
	create  container.CreateRequest
	archive map[string]fakeFile // what PUT …/archive copied in, path → file
}

type fakeFile struct {
	mode    int64
	content string
}

type fakeLogLine struct {
	stream byte // 1 stdout, 2 stderr
	at     time.Time
	text   string
}

// relevantQuery are the query parameters a recorded call shows, in this order: the ones that
// say what was asked for, not the client's fixed options.
var relevantQuery = []string{"fromImage", "tag", "t", "name", "path", "all", "filters", "follow", "since", "tail", "force", "stream", "one-shot"}

var versionPrefix = regexp.MustCompile(`^/v([0-9]+\.[0-9]+)(/.*)$`)

// newFakeEngine starts a fake daemon announcing API 1.41.
func newFakeEngine(t *testing.T) *fakeEngine {
	t.Helper()
	f := &fakeEngine{
		t:           t,
		apiVersion:  "1.41",
		closing:     make(chan struct{}),
		versions:    map[string]bool{},
		images:      map[string]bool{},
		pulls:       map[string]fakeReply{},
		networks:    map[string]bool{},
		volumes:     map[string]bool{},
		containers:  map[string]*fakeContainer{},
		afterStart:  map[string]fakeState{},
		logs:        map[string][]fakeLogLine{},
		logsChanged: make(chan struct{}),
		overrides:   map[string]fakeReply{},
	}
	f.srv = httptest.NewServer(f)
	t.Cleanup(func() {
		close(f.closing)
		f.srv.Close()
	})
	return f
}

// api is the real engineClient pointed at the fake, negotiating the API version as Connect does.
func (f *fakeEngine) api() API {
	f.t.Helper()
	return connectTestHost(f.t, "tcp://"+f.srv.Listener.Addr().String())
}

func connectTestHost(t *testing.T, host string) API {
	t.Helper()
	c, err := client.NewClientWithOpts(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &engineClient{c: c}
}

// apiCalls returns the calls recorded so far, without the client's /_ping (version
// negotiation is the client's business).
func (f *fakeEngine) apiCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if !strings.HasSuffix(c, " /_ping") {
			out = append(out, c)
		}
	}
	return out
}

// callsFor returns the recorded calls that concern the named container.
func (f *fakeEngine) callsFor(name string) []string {
	var out []string
	for _, c := range f.apiCalls() {
		if strings.Contains(c, "/containers/"+name+"/") || strings.HasSuffix(c, "/containers/"+name) ||
			strings.Contains(c, "/containers/"+name+"?") || strings.Contains(c, "name="+name) {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeEngine) resetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

// locked runs fn with the fake's state to itself, for a test to set up or read it.
func (f *fakeEngine) locked(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

func (f *fakeEngine) setImages(refs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range refs {
		f.images[r] = true
	}
}

func (f *fakeEngine) hasImage(ref string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.images[ref]
}

// addContainer puts a container there as an earlier `up` would have left it.
func (f *fakeEngine) addContainer(name string, labels map[string]string, st fakeState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.containers[name] = &fakeContainer{id: containerID(name), image: "sha256:" + containerID("image "+name), labels: labels, state: st}
}

func (f *fakeEngine) container(name string) (fakeContainer, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[name]
	if !ok {
		return fakeContainer{}, false
	}
	return *c, true
}

// log adds lines to a container's log, Docker timestamping each.
func (f *fakeEngine) log(name string, lines ...fakeLogLine) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs[name] = append(f.logs[name], lines...)
	close(f.logsChanged)
	f.logsChanged = make(chan struct{})
}

func containerID(name string) string {
	h := sha256.Sum256([]byte(name))
	return hex.EncodeToString(h[:])
}

func (f *fakeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if m := versionPrefix.FindStringSubmatch(p); m != nil {
		f.mu.Lock()
		f.versions[m[1]] = true
		f.mu.Unlock()
		p = m[2]
	}
	q := r.URL.Query()
	f.record(r.Method, p, q)
	f.mu.Lock()
	reply, overridden := f.overrides[r.Method+" "+p]
	f.mu.Unlock()
	if overridden {
		io.Copy(io.Discard, r.Body)
		writeReply(w, reply)
		return
	}
	route := r.Method + " " + p
	switch {
	case p == "/_ping" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		h := w.Header()
		h.Set("Api-Version", f.apiVersion)
		h.Set("Ostype", "linux")
		h.Set("Docker-Experimental", "false")
		h.Set("Builder-Version", "1")
		h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			io.WriteString(w, "OK")
		}
	case route == "GET /version":
		writeJSON(w, http.StatusOK, map[string]any{"Version": "28.5.2", "ApiVersion": f.apiVersion, "MinAPIVersion": "1.24", "Os": "linux", "Arch": "amd64", "KernelVersion": "6.1.0"})
	case r.Method == http.MethodGet && strings.HasPrefix(p, "/images/") && strings.HasSuffix(p, "/json"):
		f.imageInspect(w, strings.TrimSuffix(strings.TrimPrefix(p, "/images/"), "/json"))
	case route == "POST /images/create":
		f.imagePull(w, familiarRef(q.Get("fromImage"), q.Get("tag")))
	case route == "POST /build":
		f.build(w, r)
	case route == "POST /networks/create":
		f.networkCreate(w, r)
	case strings.HasPrefix(p, "/networks/"):
		f.network(w, r.Method, strings.TrimPrefix(p, "/networks/"))
	case route == "POST /volumes/create":
		f.volumeCreate(w, r)
	case r.Method == http.MethodDelete && strings.HasPrefix(p, "/volumes/"):
		f.volumeRemove(w, strings.TrimPrefix(p, "/volumes/"))
	case route == "POST /containers/create":
		f.containerCreate(w, r)
	case route == "GET /containers/json":
		f.containerList(w, q)
	case strings.HasPrefix(p, "/containers/"):
		name, action, _ := strings.Cut(strings.TrimPrefix(p, "/containers/"), "/")
		f.containerAction(w, r, name, action)
	default:
		f.t.Errorf("fake engine: unexpected call %s %s", r.Method, r.URL)
		writeReply(w, fakeReply{status: http.StatusNotFound, message: "page not found"})
	}
}

func (f *fakeEngine) record(method, path string, q url.Values) {
	var parts []string
	for _, k := range relevantQuery {
		if v, ok := q[k]; ok {
			parts = append(parts, k+"="+v[0])
		}
	}
	call := method + " " + path
	if len(parts) > 0 {
		call += "?" + strings.Join(parts, "&")
	}
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()
}

// familiarRef turns the client's fromImage (docker.io/library/postgres) back into the name a
// person writes (postgres:15-alpine).
func familiarRef(from, tag string) string {
	from = strings.TrimPrefix(from, "docker.io/")
	from = strings.TrimPrefix(from, "library/")
	if tag != "" {
		return from + ":" + tag
	}
	return from
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeReply(w http.ResponseWriter, rep fakeReply) {
	switch {
	case rep.status >= 400:
		writeJSON(w, rep.status, map[string]string{"message": rep.message})
	case rep.status == http.StatusNotModified || rep.status == http.StatusNoContent:
		w.WriteHeader(rep.status)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		for _, m := range rep.stream {
			io.WriteString(w, m+"\r\n")
		}
	}
}

// streamError is the last message of a progress stream that failed after it began.
func streamError(msg string) string {
	b, _ := json.Marshal(map[string]any{"errorDetail": map[string]string{"message": msg}, "error": msg})
	return string(b)
}

func (f *fakeEngine) imageInspect(w http.ResponseWriter, ref string) {
	if !f.hasImage(ref) {
		writeReply(w, fakeReply{status: http.StatusNotFound, message: "No such image: " + ref})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"Id": "sha256:" + containerID("image "+ref), "RepoTags": []string{ref}, "Os": "linux", "Architecture": "amd64", "Size": 1 << 20})
}

func (f *fakeEngine) imagePull(w http.ResponseWriter, ref string) {
	f.mu.Lock()
	rep, refused := f.pulls[ref]
	if !refused {
		f.images[ref] = true
	}
	f.mu.Unlock()
	if refused {
		writeReply(w, rep)
		return
	}
	name, tag, _ := strings.Cut(ref, ":")
	writeReply(w, fakeReply{stream: []string{
		fmt.Sprintf(`{"status":"Pulling from %s","id":"%s"}`, name, tag),
		`{"status":"Pulling fs layer","progressDetail":{},"id":"4abcf2066143"}`,
		`{"status":"Downloading","progressDetail":{"current":1024,"total":3408729},"progress":"[>     ]  1.024kB/3.409MB","id":"4abcf2066143"}`,
		`{"status":"Pull complete","progressDetail":{},"id":"4abcf2066143"}`,
		`{"status":"Digest: sha256:6457d53fb065d6f250e1504b9bc42d5b6c65941d57532c072d929dd0628977d0"}`,
		fmt.Sprintf(`{"status":"Status: Downloaded newer image for %s"}`, ref),
	}})
}

func (f *fakeEngine) build(w http.ResponseWriter, r *http.Request) {
	files := map[string]fakeFile{}
	tr := tar.NewReader(r.Body)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = fakeFile{mode: h.Mode, content: string(b)}
	}
	tag := r.URL.Query().Get("t")
	f.mu.Lock()
	f.builds = append(f.builds, files)
	buildErr := f.buildErr
	if buildErr == "" {
		f.images[tag] = true
	}
	f.mu.Unlock()
	stream := []string{`{"stream":"Step 1/7 : FROM scratch"}`, `{"stream":"\n"}`, `{"stream":" ---\u003e \n"}`, `{"stream":"Step 2/7 : COPY waooaw /waooaw"}`, `{"stream":"\n"}`}
	if buildErr != "" {
		stream = append(stream, streamError(buildErr))
	} else {
		stream = append(stream, `{"aux":{"ID":"sha256:`+containerID("image "+tag)+`"}}`, `{"stream":"Successfully built `+containerID("image " + tag)[:12]+`\n"}`, `{"stream":"Successfully tagged `+tag+`\n"}`)
	}
	writeReply(w, fakeReply{stream: stream})
}

func (f *fakeEngine) networkCreate(w http.ResponseWriter, r *http.Request) {
	var req struct{ Name string }
	json.NewDecoder(r.Body).Decode(&req)
	f.mu.Lock()
	exists := f.networks[req.Name]
	f.networks[req.Name] = true
	f.mu.Unlock()
	if exists {
		writeReply(w, fakeReply{status: http.StatusConflict, message: "network with name " + req.Name + " already exists"})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"Id": containerID("network " + req.Name), "Warning": ""})
}

func (f *fakeEngine) network(w http.ResponseWriter, method, name string) {
	f.mu.Lock()
	exists := f.networks[name]
	if method == http.MethodDelete {
		delete(f.networks, name)
	}
	f.mu.Unlock()
	switch {
	case !exists:
		writeReply(w, fakeReply{status: http.StatusNotFound, message: "network " + name + " not found"})
	case method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"Name": name, "Id": containerID("network " + name), "Driver": "bridge", "Scope": "local"})
	case method == http.MethodDelete:
		writeReply(w, fakeReply{status: http.StatusNoContent})
	default:
		f.t.Errorf("fake engine: unexpected %s /networks/%s", method, name)
	}
}

func (f *fakeEngine) volumeCreate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name   string
		Labels map[string]string
	}
	json.NewDecoder(r.Body).Decode(&req)
	f.mu.Lock()
	f.volumes[req.Name] = true // creating an existing volume is a no-op for the daemon
	f.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"Name": req.Name, "Driver": "local", "Mountpoint": "/var/lib/docker/volumes/" + req.Name + "/_data", "Labels": req.Labels, "Scope": "local"})
}

func (f *fakeEngine) volumeRemove(w http.ResponseWriter, name string) {
	f.mu.Lock()
	exists := f.volumes[name]
	delete(f.volumes, name)
	f.mu.Unlock()
	if !exists {
		writeReply(w, fakeReply{status: http.StatusNotFound, message: "get " + name + ": no such volume"})
		return
	}
	writeReply(w, fakeReply{status: http.StatusNoContent})
}

func (f *fakeEngine) containerCreate(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	var req container.CreateRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Config == nil {
		writeReply(w, fakeReply{status: http.StatusBadRequest, message: fmt.Sprintf("invalid create request: %v", err)})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.containers[name]; ok {
		writeReply(w, fakeReply{status: http.StatusConflict, message: fmt.Sprintf("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name.", name, c.id)})
		return
	}
	if !f.images[req.Image] {
		writeReply(w, fakeReply{status: http.StatusNotFound, message: "No such image: " + req.Image})
		return
	}
	f.containers[name] = &fakeContainer{id: containerID(name), image: "sha256:" + containerID("image "+req.Image), labels: req.Labels, state: fakeState{Status: "created"}, create: req}
	writeJSON(w, http.StatusCreated, map[string]any{"Id": containerID(name), "Warnings": []string{}})
}

func (f *fakeEngine) containerList(w http.ResponseWriter, q url.Values) {
	var filter map[string]map[string]bool
	if s := q.Get("filters"); s != "" {
		json.Unmarshal([]byte(s), &filter)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	names := make([]string, 0, len(f.containers))
	for n := range f.containers {
		names = append(names, n)
	}
	slices.Sort(names)
	list := []map[string]any{}
	for _, n := range names {
		c := f.containers[n]
		if !c.state.Running && q.Get("all") != "1" {
			continue
		}
		match := true
		for kv := range filter["label"] {
			k, v, _ := strings.Cut(kv, "=")
			if c.labels[k] != v {
				match = false
			}
		}
		if match {
			list = append(list, map[string]any{"Id": c.id, "Names": []string{"/" + n}, "Labels": c.labels, "State": c.state.Status})
		}
	}
	writeJSON(w, http.StatusOK, list)
}

func (f *fakeEngine) containerAction(w http.ResponseWriter, r *http.Request, name, action string) {
	f.mu.Lock()
	c, ok := f.containers[name]
	f.mu.Unlock()
	if !ok {
		io.Copy(io.Discard, r.Body)
		writeReply(w, fakeReply{status: http.StatusNotFound, message: "No such container: " + name})
		return
	}
	switch r.Method + " " + action {
	case "GET json":
		f.mu.Lock()
		st, labels, id, image, cfg := c.state, c.labels, c.id, c.image, c.create.Config
		f.mu.Unlock()
		imageRef := ""
		if cfg != nil {
			imageRef = cfg.Image
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"Id": id, "Name": "/" + name, "Image": image, "RestartCount": 0,
			"State": map[string]any{"Status": st.Status, "Running": st.Running, "Paused": false, "Restarting": st.Status == "restarting",
				"OOMKilled": st.OOMKilled, "Dead": false, "Pid": 0, "ExitCode": st.ExitCode, "Error": st.Error,
				"StartedAt": "2025-01-02T03:04:05.000000006Z", "FinishedAt": "0001-01-01T00:00:00Z"},
			"Config": map[string]any{"Image": imageRef, "Labels": labels},
		})
	case "POST start":
		f.mu.Lock()
		defer f.mu.Unlock()
		if c.state.Running {
			writeReply(w, fakeReply{status: http.StatusNotModified})
			return
		}
		st, ok := f.afterStart[name]
		if !ok {
			st = fakeState{Status: "running", Running: true}
		}
		c.state = st
		writeReply(w, fakeReply{status: http.StatusNoContent})
	case "POST stop":
		f.mu.Lock()
		defer f.mu.Unlock()
		if !c.state.Running {
			writeReply(w, fakeReply{status: http.StatusNotModified})
			return
		}
		c.state = fakeState{Status: "exited", ExitCode: 0}
		writeReply(w, fakeReply{status: http.StatusNoContent})
	case "DELETE ":
		f.mu.Lock()
		defer f.mu.Unlock()
		if c.state.Running && r.URL.Query().Get("force") != "1" {
			writeReply(w, fakeReply{status: http.StatusConflict, message: "cannot remove container \"/" + name + "\": container is running: stop the container before removing or force remove"})
			return
		}
		delete(f.containers, name)
		writeReply(w, fakeReply{status: http.StatusNoContent})
	case "PUT archive":
		files := map[string]fakeFile{}
		tr := tar.NewReader(r.Body)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				writeReply(w, fakeReply{status: http.StatusBadRequest, message: "unexpected EOF"})
				return
			}
			b, _ := io.ReadAll(tr)
			files[strings.TrimSuffix(h.Name, "/")] = fakeFile{mode: h.Mode, content: string(b)}
		}
		f.mu.Lock()
		c.archive = files
		f.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	case "GET logs":
		f.containerLogs(w, r, name)
	case "GET stats":
		writeJSON(w, http.StatusOK, map[string]any{
			"read": "2025-01-02T03:04:05.000000006Z", "name": "/" + name, "id": c.id,
			"memory_stats": map[string]any{"usage": 50 << 20, "limit": 8 << 30, "stats": map[string]any{"inactive_file": 10 << 20, "active_file": 1 << 20}},
		})
	default:
		f.t.Errorf("fake engine: unexpected %s /containers/%s/%s", r.Method, name, action)
		writeReply(w, fakeReply{status: http.StatusNotFound, message: "page not found"})
	}
}

// containerLogs writes the log as the daemon does for a container without a TTY: one
// multiplexed frame per line, "TIMESTAMP line\n" with timestamps=1, honouring tail and since,
// and with follow=1 going on with new lines until the client hangs up.
func (f *fakeEngine) containerLogs(w http.ResponseWriter, r *http.Request, name string) {
	q := r.URL.Query()
	var since time.Time
	if s := q.Get("since"); s != "" {
		secs, nanos, _ := strings.Cut(s, ".")
		sec, _ := strconv.ParseInt(secs, 10, 64)
		nsec, _ := strconv.ParseInt((nanos + "000000000")[:9], 10, 64)
		since = time.Unix(sec, nsec)
	}
	f.mu.Lock()
	lines := f.logs[name]
	changed := f.logsChanged
	f.mu.Unlock()
	var backlog []fakeLogLine
	for _, l := range lines {
		if !l.at.Before(since) {
			backlog = append(backlog, l)
		}
	}
	if tail := q.Get("tail"); tail != "" && tail != "all" {
		n, _ := strconv.Atoi(tail)
		if n < len(backlog) {
			backlog = backlog[len(backlog)-n:]
		}
	}
	w.Header().Set("Content-Type", "application/vnd.docker.multiplexed-stream")
	w.WriteHeader(http.StatusOK)
	timestamps := q.Get("timestamps") == "1"
	write := func(ls []fakeLogLine) {
		for _, l := range ls {
			payload := l.text + "\n"
			if timestamps {
				payload = l.at.UTC().Format(time.RFC3339Nano) + " " + payload
			}
			var hdr [8]byte
			hdr[0] = l.stream
			binary.BigEndian.PutUint32(hdr[4:], uint32(len(payload)))
			w.Write(hdr[:])
			io.WriteString(w, payload)
		}
		w.(http.Flusher).Flush()
	}
	write(backlog)
	if q.Get("follow") != "1" {
		return
	}
	seen := len(lines)
	for {
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		case <-f.closing:
			return
		}
		f.mu.Lock()
		lines = f.logs[name]
		changed = f.logsChanged
		f.mu.Unlock()
		write(lines[seen:])
		seen = len(lines)
	}
}
