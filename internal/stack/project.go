package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/waooaw/waooaw/internal/token"
)

// DefaultProject is the project name when neither -p nor WAOOAW_PROJECT gives one.
const DefaultProject = "waooaw"

var projectName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Project is one named stack's home on disk: $XDG_STATE_HOME/waooaw/<name> (by default
// ~/.local/state/waooaw/<name>). It holds the signing key, the resolved state of the running
// stack, local data and logs.
type Project struct {
	Name string
	Dir  string
}

// StateRoot returns the directory that holds every project.
func StateRoot(getenv func(string) string) (string, error) {
	if d := getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "waooaw"), nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", errors.New("find the state directory: neither XDG_STATE_HOME nor HOME is set")
	}
	return filepath.Join(home, ".local", "state", "waooaw"), nil
}

// OpenProject returns the project called name (DefaultProject when empty). It creates nothing.
func OpenProject(name string, getenv func(string) string) (*Project, error) {
	if name == "" {
		name = getenv("WAOOAW_PROJECT")
	}
	if name == "" {
		name = DefaultProject
	}
	if !projectName.MatchString(name) {
		return nil, fmt.Errorf("project name %q is not valid: use lower-case letters, digits, '-' and '_', starting with a letter or digit", name)
	}
	root, err := StateRoot(getenv)
	if err != nil {
		return nil, err
	}
	return &Project{Name: name, Dir: filepath.Join(root, name)}, nil
}

// Projects lists the projects that have a state directory.
func Projects(getenv func(string) string) ([]*Project, error) {
	root, err := StateRoot(getenv)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Project
	for _, e := range entries {
		if e.IsDir() && projectName.MatchString(e.Name()) {
			out = append(out, &Project{Name: e.Name(), Dir: filepath.Join(root, e.Name())})
		}
	}
	return out, nil
}

// Path returns a path inside the project's directory.
func (p *Project) Path(elem ...string) string {
	return filepath.Join(append([]string{p.Dir}, elem...)...)
}

// LogDir is where the local runtime writes each service's log.
func (p *Project) LogDir() string { return p.Path("logs") }

// LogFile is the log of one service on the local runtime.
func (p *Project) LogFile(service string) string { return filepath.Join(p.LogDir(), service+".log") }

// KeyPath is the project's private signing key (PEM, mode 0600).
func (p *Project) KeyPath() string { return p.Path("jwt-signing-key.pem") }

// PublicKeyPath is the public half the services verify tokens with.
func (p *Project) PublicKeyPath() string { return p.Path("jwt-public-key.pem") }

// EnsureKey returns the project's signing key, generating it (RS256) on first use.
func (p *Project) EnsureKey() (*token.SigningKey, error) {
	key, err := p.LoadKey()
	if err == nil {
		return key, p.writePublicKey(key)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create the project directory: %w", err)
	}
	key, err = token.GenerateSigningKey(token.RS256)
	if err != nil {
		return nil, err
	}
	pemBytes, err := key.MarshalPEM()
	if err != nil {
		return nil, err
	}
	if err := createExclusive(p.KeyPath(), pemBytes); errors.Is(err, fs.ErrExist) {
		return p.EnsureKey()
	} else if err != nil {
		return nil, fmt.Errorf("write the signing key: %w", err)
	}
	return key, p.writePublicKey(key)
}

// createExclusive writes data to a new file at path, mode 0600, unless path exists
// (fs.ErrExist). It is written whole to a temporary file, then linked into place: link fails
// if another command got there first (so two commands never end with two keys or two
// passwords), and nobody ever reads a half-written file.
func createExclusive(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Link(tmp.Name(), path)
}

// LoadKey reads the project's signing key; fs.ErrNotExist when it has none yet.
func (p *Project) LoadKey() (*token.SigningKey, error) {
	data, err := os.ReadFile(p.KeyPath())
	if err != nil {
		return nil, err
	}
	key, err := token.ParseSigningKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.KeyPath(), err)
	}
	return key, nil
}

func (p *Project) writePublicKey(key *token.SigningKey) error {
	pub, err := key.PublicKeyPEM()
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(p.PublicKeyPath()); err == nil && string(old) == string(pub) {
		return nil
	}
	return writeFileAtomic(p.PublicKeyPath(), pub, 0o644)
}

// State is what a runtime records about the stack it runs, in state.json.
type State struct {
	Runtime    string    `json:"runtime"`
	PortOffset int       `json:"port_offset"`
	StartedAt  time.Time `json:"started_at"`
	// Supervisor is the local runtime's supervisor process id.
	Supervisor int `json:"supervisor_pid,omitempty"`
	// Services maps a service name to what the runtime knows of it.
	Services map[string]ServiceState `json:"services"`
	// Notes are facts a person should see in status (e.g. which Redis runs).
	Notes []string `json:"notes,omitempty"`
}

// ServiceState is one service as the runtime last saw it.
type ServiceState struct {
	PID         int       `json:"pid,omitempty"`
	ContainerID string    `json:"container_id,omitempty"`
	Restarts    int       `json:"restarts"`
	StartedAt   time.Time `json:"started_at,omitzero"`
	LastExit    string    `json:"last_exit,omitempty"`
	// Program says what runs the service (e.g. "redis-server 7.0.15", "embedded").
	Program string `json:"program,omitempty"`
}

// ErrNoState means the project has no running stack recorded.
var ErrNoState = errors.New("no stack is recorded for this project")

func (p *Project) statePath() string { return p.Path("state.json") }

// ReadState returns the recorded state, or ErrNoState.
func (p *Project) ReadState() (*State, error) {
	data, err := os.ReadFile(p.statePath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoState
	}
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s is damaged (%v): run 'waooaw down' and 'waooaw up'", p.statePath(), err)
	}
	return &s, nil
}

// WriteState records s atomically: readers see the old or the new file, never half of one.
func (p *Project) WriteState(s *State) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(p.statePath(), append(data, '\n'), 0o644)
}

// RemoveState forgets the running stack.
func (p *Project) RemoveState() error {
	err := os.Remove(p.statePath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
