package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/waooaw/waooaw/internal/stack"
)

// Default third-party images (SPEC §8), each overridable by WAOOAW_IMAGE_<SERVICE>.
const (
	DefaultPostgresImage = "postgres:15-alpine"
	DefaultRedisImage    = "redis:7-alpine"
	DefaultOPAImage      = "openpolicyagent/opa:1.22.3-static" // the OPA the binary embeds
)

// Labels on everything the runtime creates.
const (
	LabelProject        = "dev.waooaw.project"
	LabelService        = "dev.waooaw.service"
	LabelVersion        = "dev.waooaw.version"
	labelConfig         = "dev.waooaw.config" // hash of the container's spec: unchanged → reused
	labelComposeProject = "com.docker.compose.project"
	labelComposeService = "com.docker.compose.service"
)

// ErrDaemon wraps a Docker daemon that does not answer (exit code 3).
var ErrDaemon = errors.New("the Docker daemon is not reachable")

// ErrImage wraps an image that is neither present nor pullable (exit code 3).
var ErrImage = errors.New("image not available")

// Images are the images each service runs from.
type Images struct {
	Services, Postgres, Redis, OPA string
}

// ImagesFromEnv returns the default third-party images with the WAOOAW_IMAGE_* overrides.
func ImagesFromEnv(getenv func(string) string) Images {
	or := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	return Images{
		Postgres: or("WAOOAW_IMAGE_POSTGRES", DefaultPostgresImage),
		Redis:    or("WAOOAW_IMAGE_REDIS", DefaultRedisImage),
		OPA:      or("WAOOAW_IMAGE_OPA", DefaultOPAImage),
	}
}

// Names of what a project owns.
func ContainerName(project, service string) string { return "waooaw-" + project + "-" + service }
func NetworkName(project string) string            { return "waooaw-" + project }
func VolumeName(project string) string             { return "waooaw-" + project + "-postgres" }

// Network is how containers reach each other: by service name on the project network.
type Network struct{}

// Addr implements stack.Network.
func (Network) Addr(s stack.Service) string { return s.Name + ":" + strconv.Itoa(s.ContainerPort) }

// Listen implements stack.Network.
func (Network) Listen(s stack.Service) string { return ":" + strconv.Itoa(s.ContainerPort) }

// Runtime runs services as containers. It implements stack.Runtime.
type Runtime struct {
	API     API
	Project string
	Version string
	Images  Images
	// Pull is missing, always or never.
	Pull string
	// Policies are the Rego modules copied into the OPA container, path → source.
	Policies map[string]string
	// Authz is the system.authz module OPA's basic authorization asks about every request
	// (policy.AuthzModule of Secrets.OPAToken), copied in beside the policies.
	Authz string
	// Secrets are the project's passwords, copied into the containers that need them as files
	// (not environment variables, which `docker inspect` shows).
	Secrets stack.Secrets
	// Progress receives pull and build progress lines.
	Progress func(string)
}

// Name implements stack.Runtime.
func (r *Runtime) Name() string { return "docker" }

func (r *Runtime) progress(format string, args ...any) {
	if r.Progress != nil {
		r.Progress(fmt.Sprintf(format, args...))
	}
}

func (r *Runtime) labels(service string) map[string]string {
	l := map[string]string{LabelProject: r.Project, LabelVersion: r.Version, labelComposeProject: "waooaw-" + r.Project}
	if service != "" {
		l[LabelService] = service
		l[labelComposeService] = service
	}
	return l
}

// EnsureImages checks the daemon and makes sure the third-party images are there, pulling
// them in parallel as Pull allows.
func (r *Runtime) EnsureImages(ctx context.Context) error {
	if err := r.API.Ping(ctx); err != nil {
		return fmt.Errorf("%w (%v): start Docker, check DOCKER_HOST and the active context, or use --runtime local", ErrDaemon, err)
	}
	refs := []string{r.Images.Postgres, r.Images.Redis, r.Images.OPA}
	slices.Sort(refs)
	refs = slices.Compact(refs)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.ensureImage(ctx, ref, r.overrideVars(ref)); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Prepare makes sure the services image is built and creates the project's network and volume.
func (r *Runtime) Prepare(ctx context.Context) error {
	if ok, err := r.API.ImageExists(ctx, r.Images.Services); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%w: the services image %s was not built", ErrImage, r.Images.Services)
	}
	if err := r.API.NetworkEnsure(ctx, NetworkName(r.Project), r.labels("")); err != nil {
		return fmt.Errorf("create network %s: %w", NetworkName(r.Project), err)
	}
	if err := r.API.VolumeEnsure(ctx, VolumeName(r.Project), r.labels(stack.Postgres)); err != nil {
		return fmt.Errorf("create volume %s: %w", VolumeName(r.Project), err)
	}
	return nil
}

// overrideVars names the variables that choose ref, for error messages.
func (r *Runtime) overrideVars(ref string) string {
	var vars []string
	for _, v := range []struct{ name, ref string }{
		{"WAOOAW_IMAGE_POSTGRES", r.Images.Postgres}, {"WAOOAW_IMAGE_REDIS", r.Images.Redis}, {"WAOOAW_IMAGE_OPA", r.Images.OPA},
	} {
		if v.ref == ref {
			vars = append(vars, v.name)
		}
	}
	return strings.Join(vars, "/")
}

func (r *Runtime) ensureImage(ctx context.Context, ref, vars string) error {
	present, err := r.API.ImageExists(ctx, ref)
	if err != nil {
		return err
	}
	if present && r.Pull != "always" {
		return nil
	}
	if r.Pull == "never" {
		return fmt.Errorf("%w: %s is not present and --pull never forbids pulling it (point %s at an image you have, or use --runtime local)", ErrImage, ref, vars)
	}
	r.progress("pulling %s", ref)
	began := time.Now()
	if err := r.API.ImagePull(ctx, ref); err != nil {
		if present {
			r.progress("pull of %s failed (%v); using the local copy", ref, err)
			return nil
		}
		return fmt.Errorf("%w: %s is not present and could not be pulled: %v (pull it, point %s at an image you have, or use --runtime local)", ErrImage, ref, err, vars)
	}
	r.progress("pulled %s in %.1fs", ref, time.Since(began).Seconds())
	return nil
}

// spec is the container a service runs as.
func (r *Runtime) spec(svc stack.Service) ContainerSpec {
	s := ContainerSpec{
		Name:    ContainerName(r.Project, svc.Name),
		Network: NetworkName(r.Project),
		Aliases: []string{svc.Name},
		Ports:   map[int]int{svc.ContainerPort: svc.HostPort},
		Labels:  r.labels(svc.Name),
	}
	switch svc.Name {
	case stack.Postgres:
		s.Image = r.Images.Postgres
		// initdb makes the bootstrap superuser with the password read from the file (the
		// image's _FILE convention); the application role the services use is provisioned
		// from the host once the server answers (see PostgresProbe).
		s.Env = []string{"POSTGRES_USER=" + stack.DatabaseSuperuser, "POSTGRES_PASSWORD_FILE=" + superuserPasswordFile, "POSTGRES_DB=" + stack.DatabaseName}
		s.Mounts = map[string]string{VolumeName(r.Project): "/var/lib/postgresql/data"}
	case stack.Redis:
		s.Image = r.Images.Redis
		// The configuration, password included, is a file: arguments show in `docker inspect`.
		s.Cmd = []string{"redis-server", redisConfFile}
	case stack.OPA:
		s.Image = r.Images.OPA
		// As the embedded server: anyone may ask for health and the gateway's decision, all
		// else needs the management token (see policy.AuthzModule).
		s.Cmd = []string{"run", "--server", "--addr", "0.0.0.0:8181", "--authentication=token", "--authorization=basic",
			"--log-format", "json", "/policies", "/authz"}
	default:
		s.Image = r.Images.Services
		s.Cmd = []string{"serve", svc.Name}
		for k, v := range svc.Env {
			s.Env = append(s.Env, k+"="+v)
		}
		sort.Strings(s.Env)
	}
	s.Labels[labelConfig] = specHash(s, r.files(svc.Name))
	return s
}

// Where the files copied into the containers go.
const (
	secretsDir            = "waooaw"
	superuserPasswordFile = "/" + secretsDir + "/postgres-superuser-password"
	redisConfFile         = "/" + secretsDir + "/redis.conf"
)

// containerFile is a file or directory (name ending in "/") copied into a container before it
// starts, its name relative to /.
type containerFile struct {
	name    string
	mode    int64
	content string
}

// files returns what is copied into the service's container before it starts, in order.
// Secret files are readable inside the container (its server runs as its own user there);
// outside it, only the daemon's users can reach them.
func (r *Runtime) files(service string) []containerFile {
	switch service {
	case stack.Postgres:
		return []containerFile{
			{name: secretsDir + "/", mode: 0o755},
			{name: strings.TrimPrefix(superuserPasswordFile, "/"), mode: 0o444, content: r.Secrets.PostgresSuperuserPassword + "\n"},
		}
	case stack.Redis:
		// Budget and trial counters only: nothing to persist. Bound to the container's own
		// interfaces; the host sees it on 127.0.0.1 only.
		conf := "bind 0.0.0.0\nprotected-mode no\nsave \"\"\nappendonly no\nrequirepass " + r.Secrets.RedisPassword + "\n"
		return []containerFile{
			{name: secretsDir + "/", mode: 0o755},
			{name: strings.TrimPrefix(redisConfFile, "/"), mode: 0o444, content: conf},
		}
	case stack.OPA:
		files := []containerFile{{name: "policies/", mode: 0o755}}
		for _, n := range slices.Sorted(maps.Keys(r.Policies)) {
			files = append(files, containerFile{name: "policies/" + strings.ReplaceAll(n, "/", "_"), mode: 0o644, content: r.Policies[n]})
		}
		return append(files,
			containerFile{name: "authz/", mode: 0o755},
			containerFile{name: "authz/system_authz.rego", mode: 0o644, content: r.Authz})
	}
	return nil
}

// specHash fingerprints what a container was created from, files copied in included, so `up`
// reuses an unchanged one.
func specHash(s ContainerSpec, files []containerFile) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%q|%q|%v|%v|%s", s.Image, s.Cmd, s.Env, s.Ports, s.Mounts, s.Network)
	for _, f := range files {
		fmt.Fprintf(h, "|%s:%o=%q", f.name, f.mode, f.content)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Start implements stack.Runtime: an unchanged running container is reused; anything else is
// replaced.
func (r *Runtime) Start(ctx context.Context, svc stack.Service) error {
	spec := r.spec(svc)
	cur, err := r.API.ContainerInspect(ctx, spec.Name)
	switch {
	case err == nil && cur.Labels[labelConfig] == spec.Labels[labelConfig] && cur.Running:
		return nil
	case err == nil && cur.Labels[labelConfig] == spec.Labels[labelConfig]:
		if err := r.API.ContainerStart(ctx, spec.Name); err != nil {
			return explainStart(spec, err)
		}
		return nil
	case err == nil:
		if err := r.API.ContainerRemove(ctx, spec.Name); err != nil {
			return fmt.Errorf("replace %s: %w", spec.Name, err)
		}
	case !errors.Is(err, ErrNotFound):
		return err
	}
	if _, err := r.API.ContainerCreate(ctx, spec); err != nil {
		return fmt.Errorf("create %s from %s: %w", spec.Name, spec.Image, err)
	}
	if files := r.files(svc.Name); len(files) > 0 {
		tarball, err := filesTar(files)
		if err != nil {
			return err
		}
		if err := r.API.ContainerCopy(ctx, spec.Name, "/", tarball); err != nil {
			return fmt.Errorf("copy the configuration into %s: %w", spec.Name, err)
		}
	}
	if err := r.API.ContainerStart(ctx, spec.Name); err != nil {
		return explainStart(spec, err)
	}
	return nil
}

// explainStart turns the engine's start errors into what a person can act on.
func explainStart(spec ContainerSpec, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "port is already allocated") || strings.Contains(msg, "address already in use") {
		var ports []string
		for _, h := range spec.Ports {
			ports = append(ports, strconv.Itoa(h))
		}
		return fmt.Errorf("start %s: host port %s is already in use (%v); free it or run 'waooaw up --port-offset 100'", spec.Name, strings.Join(ports, ", "), err)
	}
	return fmt.Errorf("start %s: %w", spec.Name, err)
}

func filesTar(files []containerFile) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.content)), Typeflag: tar.TypeReg}
		if strings.HasSuffix(f.name, "/") {
			hdr.Typeflag, hdr.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(f.content)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// Exited implements stack.Runtime: a container that stopped (or restarts) while waited on.
func (r *Runtime) Exited(svc stack.Service) error {
	st, err := r.API.ContainerInspect(context.Background(), ContainerName(r.Project, svc.Name))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: container %s is gone", stack.ErrExited, ContainerName(r.Project, svc.Name))
		}
		return nil // a hiccup of the engine is not the container's exit
	}
	return exitOf(st)
}

func exitOf(st ContainerState) error {
	switch {
	case st.OOMKilled:
		return fmt.Errorf("%w: killed for running out of memory (exit code %d)", stack.ErrExited, st.ExitCode)
	case st.Status == "restarting":
		return fmt.Errorf("%w: restarting after exit code %d", stack.ErrExited, st.ExitCode)
	case !st.Running && st.Status != "created":
		detail := ""
		if st.Error != "" {
			detail = ": " + st.Error
		}
		return fmt.Errorf("%w with code %d%s", stack.ErrExited, st.ExitCode, detail)
	}
	return nil
}

// Stop implements stack.Runtime: stop within 10 s, then remove the container.
func (r *Runtime) Stop(ctx context.Context, svc stack.Service) error {
	name := ContainerName(r.Project, svc.Name)
	if err := r.API.ContainerStop(ctx, name, 10); err != nil {
		return err
	}
	return r.API.ContainerRemove(ctx, name)
}

// LogTail implements stack.Runtime.
func (r *Runtime) LogTail(svc stack.Service, n int) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rc, err := r.API.ContainerLogs(ctx, ContainerName(r.Project, svc.Name), LogOptions{Tail: strconv.Itoa(n)})
	if err != nil {
		return nil
	}
	defer rc.Close()
	data, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if _, rest, ok := strings.Cut(l, " "); ok {
			l = rest // drop Docker's timestamp
		}
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// Inspect returns a service's container state.
func (r *Runtime) Inspect(ctx context.Context, service string) (ContainerState, error) {
	return r.API.ContainerInspect(ctx, ContainerName(r.Project, service))
}

// RemoveNetwork removes the project's network (after its containers are gone).
func (r *Runtime) RemoveNetwork(ctx context.Context) error {
	return r.API.NetworkRemove(ctx, NetworkName(r.Project))
}

// RemoveVolume removes the project's PostgreSQL volume, by its exact name.
func (r *Runtime) RemoveVolume(ctx context.Context) error {
	return r.API.VolumeRemove(ctx, VolumeName(r.Project))
}
