package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"
)

// dockerfile is the services image: the waooaw binary alone, run as nobody. The HEALTHCHECK
// runs the binary itself (there is no shell in the image), which reads the port from ADDR.
const dockerfile = `FROM scratch
COPY waooaw /waooaw
USER 65534:65534
EXPOSE 8000 8001 8006 8015
HEALTHCHECK --interval=5s --timeout=2s --start-period=5s --retries=3 CMD ["/waooaw", "healthcheck"]
ENTRYPOINT ["/waooaw"]
CMD ["--help"]
`

var tagUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// ServicesImageTag names the services image for the binary at exe: the version and the first
// 12 hex digits of the binary's SHA-256, so a rebuilt binary gets a new image and an unchanged
// one reuses its image.
func ServicesImageTag(exe, version string) (string, error) {
	f, err := os.Open(exe)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	v := tagUnsafe.ReplaceAllString(version, "-")
	if len(v) > 60 {
		v = v[:60]
	}
	return "waooaw/services:" + v + "-" + hex.EncodeToString(h.Sum(nil))[:12], nil
}

// ErrNotStatic is a binary that cannot run in a FROM scratch image.
var ErrNotStatic = errors.New("the waooaw binary is not a static Linux executable")

// checkStatic refuses a binary the scratch image could not run: not Linux ELF, or dynamically
// linked (cgo).
func checkStatic(exe string) error {
	f, err := elf.Open(exe)
	if err != nil {
		return fmt.Errorf("%w (%v): build it for Linux with CGO_ENABLED=0 (make build)", ErrNotStatic, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%w: it is dynamically linked; build it with CGO_ENABLED=0 (make build)", ErrNotStatic)
		}
	}
	return nil
}

// EnsureServicesImage builds the services image from exe unless an image of that tag exists.
// It returns whether it built.
func EnsureServicesImage(ctx context.Context, api API, exe, tag string, progress func(string)) (bool, error) {
	if ok, err := api.ImageExists(ctx, tag); err != nil {
		return false, err
	} else if ok {
		return false, nil
	}
	if err := checkStatic(exe); err != nil {
		return false, err
	}
	buildContext, err := servicesContext(exe)
	if err != nil {
		return false, err
	}
	if progress != nil {
		progress("building " + tag + " from " + exe)
	}
	began := time.Now()
	if err := api.ImageBuild(ctx, tag, buildContext); err != nil {
		return false, fmt.Errorf("build the services image %s: %w", tag, err)
	}
	if progress != nil {
		progress(fmt.Sprintf("built %s in %.1fs", tag, time.Since(began).Seconds()))
	}
	return true, nil
}

// servicesContext is the build context: the Dockerfile and the binary.
func servicesContext(exe string) (io.Reader, error) {
	bin, err := os.ReadFile(exe)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, []byte(dockerfile)}, {"waooaw", 0o755, bin}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}
