// Package docker is the runtime that runs the stack as Docker containers through the Engine
// API: one network and one PostgreSQL volume per project, the four services from an image the
// CLI builds from its own binary, PostgreSQL, Redis and OPA from pinned (overridable) images.
// Everything it needs of Docker goes through the narrow API interface below, so tests can fake
// error paths and a client upgrade touches one file.
package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"
)

// API is what the runtime asks of the Docker Engine.
type API interface {
	Ping(ctx context.Context) error
	ImageExists(ctx context.Context, ref string) (bool, error)
	ImagePull(ctx context.Context, ref string) error
	ImageBuild(ctx context.Context, tag string, buildContext io.Reader) error
	NetworkEnsure(ctx context.Context, name string, labels map[string]string) error
	NetworkRemove(ctx context.Context, name string) error
	VolumeEnsure(ctx context.Context, name string, labels map[string]string) error
	VolumeRemove(ctx context.Context, name string) error
	// ContainerInspect returns ErrNotFound for a missing container.
	ContainerInspect(ctx context.Context, name string) (ContainerState, error)
	ContainerCreate(ctx context.Context, spec ContainerSpec) (string, error)
	ContainerCopy(ctx context.Context, name, dir string, tarball io.Reader) error
	ContainerStart(ctx context.Context, name string) error
	ContainerStop(ctx context.Context, name string, timeoutSeconds int) error
	ContainerRemove(ctx context.Context, name string) error
	// ContainerLogs returns the container's output, stdout and stderr merged, line by line,
	// with Docker's RFC 3339 timestamp before each line.
	ContainerLogs(ctx context.Context, name string, opts LogOptions) (io.ReadCloser, error)
	ContainerMemory(ctx context.Context, name string) (uint64, error)
	// ContainersByLabel lists the names of containers carrying label=value.
	ContainersByLabel(ctx context.Context, label, value string) ([]string, error)
}

// ErrNotFound is a container, image or volume the engine does not have.
var ErrNotFound = errors.New("not found")

// ContainerState is what the runtime reads of a container.
type ContainerState struct {
	ID        string
	Image     string
	Running   bool
	Status    string // created, running, exited, restarting…
	ExitCode  int
	OOMKilled bool
	Error     string
	Labels    map[string]string
	StartedAt string
	Restarts  int
}

// ContainerSpec is one container to create.
type ContainerSpec struct {
	Name     string
	Image    string
	Cmd      []string
	Env      []string
	Labels   map[string]string
	Network  string
	Aliases  []string
	Ports    map[int]int // container port → host port, published on 127.0.0.1
	Mounts   map[string]string
	User     string
	Healthy  []string // HEALTHCHECK test override; nil keeps the image's
	Restart  string   // restart policy name
	ReadOnly bool
}

// LogOptions select a container's log lines.
type LogOptions struct {
	Follow bool
	Tail   string // "all" or a number
	Since  string // RFC 3339 or Unix time
}

// engineClient is API on the Docker client.
type engineClient struct{ c *client.Client }

// Connect returns the Engine API of the daemon that DOCKER_HOST (and DOCKER_CERT_PATH,
// DOCKER_TLS_VERIFY) name, else the default socket, negotiating the API version.
func Connect() (API, error) {
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, err
	}
	return &engineClient{c: c}, nil
}

func notFound(err error) error {
	if client.IsErrNotFound(err) {
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return err
}

func (e *engineClient) Ping(ctx context.Context) error {
	_, err := e.c.Ping(ctx)
	return err
}

func (e *engineClient) ImageExists(ctx context.Context, ref string) (bool, error) {
	_, err := e.c.ImageInspect(ctx, ref)
	if client.IsErrNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

func (e *engineClient) ImagePull(ctx context.Context, ref string) error {
	rc, err := e.c.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return err
	}
	defer rc.Close()
	return jsonStreamError(rc)
}

func (e *engineClient) ImageBuild(ctx context.Context, tag string, buildContext io.Reader) error {
	resp, err := e.c.ImageBuild(ctx, buildContext, build.ImageBuildOptions{Tags: []string{tag}, Remove: true, ForceRemove: true})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return jsonStreamError(resp.Body)
}

// jsonStreamError drains a pull or build progress stream and returns the error it reports.
func jsonStreamError(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		if msg.Error != "" {
			return errors.New(strings.TrimSpace(msg.Error))
		}
	}
}

func (e *engineClient) NetworkEnsure(ctx context.Context, name string, labels map[string]string) error {
	if _, err := e.c.NetworkInspect(ctx, name, network.InspectOptions{}); err == nil {
		return nil
	}
	_, err := e.c.NetworkCreate(ctx, name, network.CreateOptions{Driver: "bridge", Labels: labels})
	if err != nil && strings.Contains(err.Error(), "already exists") {
		return nil
	}
	return err
}

func (e *engineClient) NetworkRemove(ctx context.Context, name string) error {
	err := e.c.NetworkRemove(ctx, name)
	if client.IsErrNotFound(err) {
		return nil
	}
	return err
}

func (e *engineClient) VolumeEnsure(ctx context.Context, name string, labels map[string]string) error {
	_, err := e.c.VolumeCreate(ctx, volume.CreateOptions{Name: name, Labels: labels})
	return err
}

func (e *engineClient) VolumeRemove(ctx context.Context, name string) error {
	err := e.c.VolumeRemove(ctx, name, false)
	if client.IsErrNotFound(err) {
		return nil
	}
	return err
}

func (e *engineClient) ContainerInspect(ctx context.Context, name string) (ContainerState, error) {
	in, err := e.c.ContainerInspect(ctx, name)
	if err != nil {
		return ContainerState{}, notFound(err)
	}
	st := ContainerState{ID: in.ID, Image: in.Image, Restarts: in.RestartCount}
	if in.Config != nil {
		st.Labels = in.Config.Labels
	}
	if in.State != nil {
		st.Running, st.Status, st.ExitCode, st.OOMKilled, st.Error, st.StartedAt =
			in.State.Running, string(in.State.Status), in.State.ExitCode, in.State.OOMKilled, in.State.Error, in.State.StartedAt
	}
	return st, nil
}

func (e *engineClient) ContainerCreate(ctx context.Context, s ContainerSpec) (string, error) {
	cfg := &container.Config{Image: s.Image, Cmd: s.Cmd, Env: s.Env, Labels: s.Labels, User: s.User, ExposedPorts: natPortSet(s.Ports)}
	if s.Healthy != nil {
		cfg.Healthcheck = &container.HealthConfig{Test: s.Healthy}
	}
	host := &container.HostConfig{PortBindings: natPortMap(s.Ports), ReadonlyRootfs: s.ReadOnly}
	if s.Restart != "" {
		host.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyMode(s.Restart)}
	}
	for src, dst := range s.Mounts {
		host.Binds = append(host.Binds, src+":"+dst)
	}
	var netCfg *network.NetworkingConfig
	if s.Network != "" {
		host.NetworkMode = container.NetworkMode(s.Network)
		netCfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{s.Network: {Aliases: s.Aliases}}}
	}
	resp, err := e.c.ContainerCreate(ctx, cfg, host, netCfg, nil, s.Name)
	if err != nil {
		return "", notFound(err)
	}
	return resp.ID, nil
}

func (e *engineClient) ContainerCopy(ctx context.Context, name, dir string, tarball io.Reader) error {
	return e.c.CopyToContainer(ctx, name, dir, tarball, container.CopyToContainerOptions{})
}

func (e *engineClient) ContainerStart(ctx context.Context, name string) error {
	return e.c.ContainerStart(ctx, name, container.StartOptions{})
}

func (e *engineClient) ContainerStop(ctx context.Context, name string, timeoutSeconds int) error {
	err := e.c.ContainerStop(ctx, name, container.StopOptions{Timeout: &timeoutSeconds})
	if client.IsErrNotFound(err) {
		return nil
	}
	return err
}

func (e *engineClient) ContainerRemove(ctx context.Context, name string) error {
	err := e.c.ContainerRemove(ctx, name, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if client.IsErrNotFound(err) {
		return nil
	}
	return err
}

func (e *engineClient) ContainerLogs(ctx context.Context, name string, o LogOptions) (io.ReadCloser, error) {
	rc, err := e.c.ContainerLogs(ctx, name, container.LogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true, Follow: o.Follow, Tail: o.Tail, Since: o.Since})
	if err != nil {
		return nil, notFound(err)
	}
	// Without a TTY the stream is multiplexed: split it back into one stream of lines.
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, rc)
		rc.Close()
		pw.CloseWithError(err)
	}()
	return readCloser{Reader: pr, close: func() error { rc.Close(); return pr.Close() }}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }

func (e *engineClient) ContainerMemory(ctx context.Context, name string) (uint64, error) {
	resp, err := e.c.ContainerStatsOneShot(ctx, name)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var stats container.StatsResponse
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		return 0, err
	}
	// As `docker stats` shows it: usage less the page cache.
	usage := stats.MemoryStats.Usage
	if cache, ok := stats.MemoryStats.Stats["inactive_file"]; ok && cache < usage {
		usage -= cache
	}
	return usage, nil
}

func (e *engineClient) ContainersByLabel(ctx context.Context, label, value string) ([]string, error) {
	list, err := e.c.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", label+"="+value))})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, c := range list {
		for _, n := range c.Names {
			names = append(names, strings.TrimPrefix(n, "/"))
		}
	}
	return names, nil
}

func natPortSet(ports map[int]int) nat.PortSet {
	set := nat.PortSet{}
	for cport := range ports {
		set[nat.Port(fmt.Sprintf("%d/tcp", cport))] = struct{}{}
	}
	return set
}

// natPortMap publishes each container port on 127.0.0.1 only.
func natPortMap(ports map[int]int) nat.PortMap {
	m := nat.PortMap{}
	for cport, hport := range ports {
		m[nat.Port(fmt.Sprintf("%d/tcp", cport))] = []nat.PortBinding{{HostIP: "127.0.0.1", HostPort: fmt.Sprint(hport)}}
	}
	return m
}
