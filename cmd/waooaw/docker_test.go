package main

// The Docker runtime end to end: the same user journey as on the local runtime, with the
// third-party images replaced by the local stand-ins of testdata/images (this machine has no
// registry), passed through the WAOOAW_IMAGE_* overrides the product honours.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/waooaw/waooaw/internal/stack"
)

// standIns are the images testdata/images/build.sh builds.
var standIns = map[string]string{
	"WAOOAW_IMAGE_POSTGRES": "waooaw-test/postgres-redis:bookworm",
	"WAOOAW_IMAGE_REDIS":    "waooaw-test/postgres-redis:bookworm",
	"WAOOAW_IMAGE_OPA":      "waooaw-test/opa:static",
}

// requireDocker fails under CI=true, and skips elsewhere, without a daemon and the stand-ins.
func requireDocker(t *testing.T) {
	t.Helper()
	missing := func(msg string) {
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if err := exec.Command("docker", "info").Run(); err != nil {
		missing("the Docker daemon does not answer (docker info): start Docker to run the Docker runtime tests")
	}
	for _, img := range standIns {
		if err := exec.Command("docker", "image", "inspect", img).Run(); err != nil {
			missing("image " + img + " is missing: build the stand-ins with testdata/images/build.sh (.ci/run does)")
		}
	}
}

func docker(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func TestDockerStackLifecycle(t *testing.T) {
	requireDocker(t)
	sb := newSandbox(t)
	for k, v := range standIns {
		t.Setenv(k, v) // sandbox.env() passes os.Environ() on to waooaw
	}
	off := fmt.Sprint(sb.offset)
	project := sb.project

	sb.mustRun("up", "--runtime", "docker", "--port-offset", off)
	t.Cleanup(func() { sb.run("down", "--volumes") })

	code, st := sb.status()
	if code != 0 || !st.Healthy || len(st.Services) != 7 {
		t.Fatalf("status after up --runtime docker: exit %d, %+v", code, st)
	}

	// Names and labels: exactly our seven containers, one network, one volume.
	names, _ := docker(t, "ps", "--filter", "label=dev.waooaw.project="+project, "--format", "{{.Names}}")
	for _, s := range stack.Names() {
		if !strings.Contains(names, "waooaw-"+project+"-"+s) {
			t.Errorf("docker ps lacks waooaw-%s-%s: %q", project, s, names)
		}
	}
	if labels, _ := docker(t, "inspect", "-f", "{{json .Config.Labels}}", "waooaw-"+project+"-gateway"); !strings.Contains(labels, `"com.docker.compose.project":"waooaw-`+project+`"`) || !strings.Contains(labels, `"dev.waooaw.service":"gateway"`) {
		t.Errorf("gateway labels: %s", labels)
	}
	if _, err := docker(t, "network", "inspect", "waooaw-"+project); err != nil {
		t.Errorf("network waooaw-%s: %v", project, err)
	}

	// up again reuses everything.
	_, _, stderr := sb.run("up", "--runtime", "docker")
	if !strings.Contains(stderr, "already up") {
		t.Errorf("second up: %q, want 'already up'", stderr)
	}

	// verify, full suite, passes on the docker stack.
	sb.mustRun("verify", "--suite", "full")

	// logs shows all seven.
	all := sb.mustRun("logs", "--tail", "20")
	for _, name := range stack.Names() {
		if !strings.Contains(all, name) {
			t.Errorf("logs show nothing of %s", name)
		}
	}

	// A killed container shows in status, and up brings it back.
	if out, err := docker(t, "kill", "waooaw-"+project+"-gateway"); err != nil {
		t.Fatalf("docker kill: %v %s", err, out)
	}
	waitUntil(t, "status to report the killed gateway", func() bool {
		code, st := sb.status()
		for _, s := range st.Services {
			if s.Service == stack.Gateway {
				return code == 1 && s.State != "healthy"
			}
		}
		return false
	})
	sb.mustRun("up", "--runtime", "docker")
	if code, st := sb.status(); code != 0 || !st.Healthy {
		t.Fatalf("status after up brought the gateway back: exit %d %+v", code, st)
	}

	// down then up keeps a trial created before.
	tok := strings.TrimSpace(sb.mustRun("token", "mint"))
	trialID := createTrial(t, sb, tok)
	sb.mustRun("down")
	if out, _ := docker(t, "ps", "-a", "--filter", "label=dev.waooaw.project="+project, "--format", "{{.Names}}"); out != "" {
		t.Errorf("containers left after down: %q", out)
	}
	sb.mustRun("up", "--runtime", "docker", "--port-offset", off)
	if _, trials := sb.get(sb.url(stack.CP)+"/api/trials", tok); !strings.Contains(trials, trialID) {
		t.Fatalf("after down and up the trial is gone: %s", trials)
	}

	// down --volumes removes the volume by its exact name.
	sb.mustRun("down", "--volumes")
	if _, err := docker(t, "volume", "inspect", "waooaw-"+project+"-postgres"); err == nil {
		t.Error("volume still there after down --volumes")
	}
}

func TestDockerUpWithoutImagesFailsFastNamingThem(t *testing.T) {
	requireDocker(t)
	sb := newSandbox(t)
	t.Setenv("WAOOAW_IMAGE_POSTGRES", "waooaw-test/does-not-exist:1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "up", "--runtime", "docker", "--pull", "never", "--port-offset", fmt.Sprint(sb.offset))
	cmd.Env = sb.env()
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 3 || !strings.Contains(string(out), "waooaw-test/does-not-exist:1") {
		t.Fatalf("up with a missing image: %v\n%s", err, out)
	}
}

func createTrial(t *testing.T, sb *sandbox, tok string) string {
	t.Helper()
	_, agents := sb.get(sb.url(stack.CP)+"/api/agents?limit=1&offset=3", tok)
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(agents), &page); err != nil || len(page.Items) == 0 {
		t.Fatalf("agents: %v %s", err, agents)
	}
	req, _ := http.NewRequest(http.MethodPost, sb.url(stack.CP)+"/api/trials", strings.NewReader(`{"agent_id":"`+page.Items[0].ID+`"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var trial struct {
		ID string `json:"id"`
	}
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&trial) != nil {
		t.Fatalf("create trial: %s", resp.Status)
	}
	return trial.ID
}
