// Package s3test starts a real S3 server for tests: versitygw with its posix
// backend, on a free loopback port, with one empty bucket, stopped when the
// test ends.
//
// The versitygw binary is found through HUBSHARE_VERSITYGW, or else in the
// user's cache folder, where .ci/run builds it (see Binary). Without it the
// tests that need it are skipped with a message saying how to build it, and
// fail when CI is set (as CI systems do).
package s3test

import (
	"context"
	"errors"
	"fmt"
	"hubshare/app/logtest"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Version is the versitygw release the tests run against.
const Version = "v1.8.0"

// Bucket is the bucket every server starts with.
const Bucket = "hubshare"

// The root credentials of the test server.
const (
	AccessKey = "hubshare-test"
	SecretKey = "hubshare-test-secret"
)

// Binary returns where the versitygw binary is looked for:
// $HUBSHARE_VERSITYGW if set, else versitygw-<Version>/versitygw under
// hubshare-test in the user's cache folder.
func Binary() string {
	if p := os.Getenv("HUBSHARE_VERSITYGW"); p != "" {
		return p
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "hubshare-test", "versitygw-"+Version, "versitygw")
}

// Server is a running versitygw.
type Server struct {
	// URL is the media URL of the bucket, under the prefix "media".
	URL string
	// Endpoint is the server's http:// address.
	Endpoint string
	// Env holds the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)
	// and HUBSHARE_MEDIA_URL, in os/exec's KEY=value form.
	Env []string
	// Root is the posix folder holding the buckets.
	Root string
	stop func()
}

// Stop stops the server now (it is stopped when the test ends anyway), for
// tests of what happens when the store goes away.
func (s *Server) Stop() { s.stop() }

// Getenv looks a name up in the server's Env, for code that takes a getenv
// function.
func (s *Server) Getenv(name string) string {
	for _, kv := range s.Env {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v
		}
	}
	return ""
}

// Start starts a server for tb and returns its media URL and environment;
// see StartServer.
func Start(tb testing.TB) (mediaURL string, env []string) {
	tb.Helper()
	s := StartServer(tb)
	return s.URL, s.Env
}

// StartServer starts versitygw on a free loopback port with an empty bucket
// named Bucket in a fresh folder, and stops it when tb ends. It skips tb
// (fails it when CI is set) when the binary is missing.
func StartServer(tb testing.TB) *Server {
	tb.Helper()
	bin := Binary()
	if _, err := os.Stat(bin); err != nil {
		msg := fmt.Sprintf("no versitygw binary at %s: build it with `GOFLAGS= GOBIN=%s go install github.com/versity/versitygw/cmd/versitygw@%s` (.ci/run does), or set HUBSHARE_VERSITYGW", bin, filepath.Dir(bin), Version)
		if os.Getenv("CI") != "" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	root := filepath.Join(tb.TempDir(), "s3")
	if err := os.MkdirAll(filepath.Join(root, Bucket), 0o700); err != nil {
		tb.Fatal(err)
	}
	var lastErr error
	// A port found free can be taken before the server binds it: try again.
	for attempt := 0; attempt < 3; attempt++ {
		s, err := start(tb, bin, root)
		if err == nil {
			return s
		}
		lastErr = err
	}
	tb.Fatalf("starting versitygw: %v", lastErr)
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func start(tb testing.TB, bin, root string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "--port", addr, "--access", AccessKey, "--secret", SecretKey, "--quiet", "posix", root)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + root}
	var out logtest.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		})
	}
	endpoint := "http://" + addr
	if err := waitReady(endpoint, exited); err != nil {
		stop()
		return nil, fmt.Errorf("%w; output: %s", err, out.String())
	}
	tb.Cleanup(stop)
	q := url.Values{"endpoint": {endpoint}, "region": {"us-east-1"}, "path_style": {"true"}}
	mediaURL := "s3://" + Bucket + "/media?" + q.Encode()
	return &Server{
		URL:      mediaURL,
		Endpoint: endpoint,
		Root:     root,
		stop:     stop,
		Env: []string{
			"AWS_ACCESS_KEY_ID=" + AccessKey,
			"AWS_SECRET_ACCESS_KEY=" + SecretKey,
			"HUBSHARE_MEDIA_URL=" + mediaURL,
		},
	}, nil
}

// waitReady polls until the server answers HTTP at all (an anonymous
// request is refused, which is an answer), for at most 20 s.
func waitReady(endpoint string, exited <-chan error) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("versitygw exited: %v", err)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/", nil)
		resp, err := client.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("versitygw did not answer within 20 s")
}
