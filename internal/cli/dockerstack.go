package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/waooaw/waooaw/internal/buildinfo"
	"github.com/waooaw/waooaw/internal/policy"
	"github.com/waooaw/waooaw/internal/stack"
	"github.com/waooaw/waooaw/internal/stack/docker"
	"github.com/waooaw/waooaw/internal/stack/logs"
)

// dockerStack is a project's stack on the Docker runtime.
type dockerStack struct {
	rt   *docker.Runtime
	svcs []stack.Service
	exe  string
}

// openDockerStack connects to the daemon and resolves the project's containers for offset.
func openDockerStack(ctx context.Context, e *env, project *stack.Project, offset int, pull string) (*dockerStack, error) {
	api, err := docker.Connect()
	if err != nil {
		return nil, environmentErr(fmt.Errorf("%w (%v)", docker.ErrDaemon, err))
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := api.Ping(pctx); err != nil {
		return nil, environmentErr(fmt.Errorf("%w (%v): start Docker, check DOCKER_HOST and the active context, or use --runtime local", docker.ErrDaemon, err))
	}
	key, err := project.EnsureKey()
	if err != nil {
		return nil, fmt.Errorf("the project's signing key: %w", err)
	}
	pub, err := key.PublicKeyPEM()
	if err != nil {
		return nil, err
	}
	secrets, err := project.EnsureSecrets()
	if err != nil {
		return nil, fmt.Errorf("the project's secrets: %w", err)
	}
	svcs, err := stack.Services(stack.Config{PortOffset: offset, PublicKey: string(pub), Network: docker.Network{}, Secrets: secrets})
	if err != nil {
		return nil, usageErr(err)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	images := docker.ImagesFromEnv(e.getenv)
	if images.Services, err = docker.ServicesImageTag(exe, buildinfo.Version); err != nil {
		return nil, err
	}
	modules, err := policy.Modules()
	if err != nil {
		return nil, err
	}
	rt := &docker.Runtime{API: api, Project: project.Name, Version: buildinfo.Version, Images: images, Pull: pull, Policies: modules,
		Authz: policy.AuthzModule(secrets.OPAToken), Secrets: secrets,
		Progress: func(s string) { fmt.Fprintln(e.stderr, s) }}
	for i := range svcs {
		if svcs[i].Name == stack.Postgres {
			// The official image makes only the superuser: the application role is provisioned
			// from the host before postgres counts as ready.
			svcs[i].Probe = rt.PostgresProbe(svcs[i])
		}
	}
	return &dockerStack{rt: rt, svcs: svcs, exe: exe}, nil
}

// dockerUsable reports whether the auto runtime should pick Docker, and why not.
func dockerUsable(ctx context.Context, e *env) (bool, string) {
	api, err := docker.Connect()
	if err != nil {
		return false, "no Docker client configuration: " + err.Error()
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := api.Ping(pctx); err != nil {
		return false, "the Docker daemon does not answer"
	}
	images := docker.ImagesFromEnv(e.getenv)
	var missing []string
	for _, ref := range []string{images.Postgres, images.Redis, images.OPA} {
		if ok, err := api.ImageExists(pctx, ref); err != nil || !ok {
			missing = append(missing, ref)
		}
	}
	if len(missing) > 0 {
		return false, "the Docker daemon answers but lacks " + strings.Join(missing, ", ") + " (docker pull them, or use --runtime docker to pull)"
	}
	return true, "the Docker daemon answers and has the images"
}

func upDocker(ctx context.Context, e *env, project *stack.Project, o *upOptions, progress *progress) error {
	return runDockerUp(ctx, e, project, o, progress, true)
}

// upDockerAgain starts again the containers of a running docker stack that are missing or
// stopped; the running, unchanged ones are reused.
func upDockerAgain(ctx context.Context, e *env, project *stack.Project, o *upOptions) error {
	return runDockerUp(ctx, e, project, o, newProgress(e.stderr, isTerminal(e.stderr) && e.getenv("NO_COLOR") == ""), false)
}

func runDockerUp(ctx context.Context, e *env, project *stack.Project, o *upOptions, progress *progress, preflight bool) error {
	began := time.Now()
	ds, err := openDockerStack(ctx, e, project, o.portOffset, o.pull)
	if err != nil {
		return err
	}
	if preflight {
		claims := make([]stack.PortClaim, 0, len(ds.svcs))
		for _, s := range ds.svcs {
			claims = append(claims, stack.PortClaim{Service: s.Name, Host: stack.Host, Port: s.HostPort})
		}
		if err := stack.CheckPortsFree(claims); err != nil {
			return environmentErr(err)
		}
	}
	if err := ds.rt.EnsureImages(ctx); err != nil {
		if errors.Is(err, docker.ErrDaemon) || errors.Is(err, docker.ErrImage) {
			return environmentErr(err)
		}
		return err
	}
	if _, err := docker.EnsureServicesImage(ctx, ds.rt.API, ds.exe, ds.rt.Images.Services, ds.rt.Progress); err != nil {
		if errors.Is(err, docker.ErrNotStatic) {
			return environmentErr(err)
		}
		return err
	}
	if err := ds.rt.Prepare(ctx); err != nil {
		if errors.Is(err, docker.ErrDaemon) || errors.Is(err, docker.ErrImage) {
			return environmentErr(err)
		}
		return err
	}
	state := &stack.State{Runtime: "docker", PortOffset: o.portOffset, StartedAt: time.Now().UTC(),
		Notes: []string{"network " + docker.NetworkName(project.Name) + ", volume " + docker.VolumeName(project.Name)}}
	if err := project.WriteState(state); err != nil {
		return err
	}
	engine := &stack.Engine{Runtime: ds.rt, Events: progress.event}
	if err := engine.Up(ctx, ds.svcs, o.timeout); err != nil {
		var se *stack.ServiceError
		if errors.As(err, &se) {
			return &exitError{exitFailed, fmt.Errorf("%s\n  the container %s is left for inspection (docker logs %s); 'waooaw down%s' removes the stack",
				se.Detail(), docker.ContainerName(project.Name, se.Service), docker.ContainerName(project.Name, se.Service), projectFlag(project))}
		}
		return err
	}
	return printUp(e, project, ds.svcs, progress, time.Since(began), false)
}

// downDocker stops and removes the project's containers in reverse order, then its network,
// and with volumes its PostgreSQL volume.
func downDocker(ctx context.Context, e *env, project *stack.Project, st *stack.State, volumes bool) error {
	began := time.Now()
	ds, err := openDockerStack(ctx, e, project, st.PortOffset, "never")
	if err != nil {
		return err
	}
	if err := (&stack.Engine{Runtime: ds.rt}).Down(ctx, ds.svcs); err != nil {
		return err
	}
	if err := ds.rt.RemoveNetwork(ctx); err != nil {
		return fmt.Errorf("remove network %s: %w", docker.NetworkName(project.Name), err)
	}
	if err := project.RemoveState(); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "stack %q stopped in %.2fs (docker runtime)\n", project.Name, time.Since(began).Seconds())
	if volumes {
		if err := ds.rt.RemoveVolume(ctx); err != nil {
			return fmt.Errorf("remove volume %s: %w", docker.VolumeName(project.Name), err)
		}
		fmt.Fprintf(e.stderr, "removed volume %s\n", docker.VolumeName(project.Name))
	}
	return nil
}

// dockerStatus fills in container ids, states and memory.
func dockerStatus(ctx context.Context, e *env, project *stack.Project, st *stack.State, rows []statusRow) error {
	ds, err := openDockerStack(ctx, e, project, st.PortOffset, "never")
	if err != nil {
		return err
	}
	for i := range rows {
		cs, err := ds.rt.Inspect(ctx, rows[i].Service)
		if err != nil {
			rows[i].State, rows[i].Detail = "missing", "no container "+docker.ContainerName(project.Name, rows[i].Service)
			continue
		}
		rows[i].Container = shortID(cs.ID)
		rows[i].Restarts = cs.Restarts
		if err := exitDetail(cs); err != "" {
			rows[i].State, rows[i].Detail = "exited", err
		}
		if mem, err := ds.rt.API.ContainerMemory(ctx, docker.ContainerName(project.Name, rows[i].Service)); err == nil && cs.Running {
			rows[i].MemoryMB = float64(mem) / (1 << 20)
		}
		if t, err := time.Parse(time.RFC3339Nano, cs.StartedAt); err == nil && cs.Running {
			rows[i].Uptime = time.Since(t).Truncate(time.Second).String()
		}
	}
	return nil
}

func exitDetail(cs docker.ContainerState) string {
	if cs.Running {
		return ""
	}
	if cs.OOMKilled {
		return fmt.Sprintf("killed for running out of memory (exit code %d)", cs.ExitCode)
	}
	return fmt.Sprintf("container %s (exit code %d)", cs.Status, cs.ExitCode)
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// dockerLogSources reads the project's container logs through the Engine API.
func dockerLogSources(ctx context.Context, e *env, project *stack.Project, st *stack.State, services []string) ([]logs.Source, error) {
	ds, err := openDockerStack(ctx, e, project, st.PortOffset, "never")
	if err != nil {
		return nil, err
	}
	var out []logs.Source
	for _, s := range services {
		out = append(out, &docker.LogSource{API: ds.rt.API, Project: project.Name, Name: s})
	}
	return out, nil
}
