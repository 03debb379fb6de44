package pii

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
)

func TestParseKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0xfe, 0x01}, 20) // 40 raw bytes, not hex text
	for _, c := range []struct {
		name string
		in   []byte
		want []byte
		err  string
	}{
		{"hex with newline", []byte(strings.Repeat("ab", 32) + "\n"), bytes.Repeat([]byte{0xab}, 32), ""},
		{"upper-case hex", []byte(strings.Repeat("CD", 40)), bytes.Repeat([]byte{0xcd}, 40), ""},
		{"raw", raw, raw, ""},
		{"short hex", []byte(strings.Repeat("ab", 31)), nil, "31-byte key"},
		{"short raw", []byte("too short, not hex"), nil, "18-byte key"},
		{"empty", nil, nil, "0-byte key"},
	} {
		got, err := ParseKey(c.in)
		if c.err != "" {
			// Text: the message reports how many bytes the key decoded to.
			if !errors.Is(err, ErrShortKey) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want ErrShortKey saying %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("%s: %x, %v", c.name, got, err)
		}
	}
}

func TestFileKeyGeneratedOnce(t *testing.T) {
	dir := t.TempDir()
	path := LakeKeyPath(dir, "consumer-header")
	var logs bytes.Buffer
	log := zerolog.New(&logs)

	// Without Create a missing file is an error.
	if _, err := (FileKey{Path: path, Log: log}).Key(context.Background()); err == nil {
		t.Fatal("missing key file without Create gave a key")
	}
	// Many runs at once agree on one key.
	keys := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := (FileKey{Path: path, Create: true, Log: log}).Key(context.Background())
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	for i, k := range keys {
		if len(k) != MinKeyBytes || !bytes.Equal(k, keys[0]) {
			t.Fatalf("run %d got key %x, run 0 %x", i, k, keys[0])
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Errorf("key dir mode %v", di.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if string(data) != hex.EncodeToString(keys[0])+"\n" {
		t.Errorf("key file holds %q", data)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".key-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	// Logged once, with the path, never with the key.
	if n := strings.Count(logs.String(), "generated a new HMAC key"); n != 1 {
		t.Errorf("generation logged %d times:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), path) || strings.Contains(logs.String(), hex.EncodeToString(keys[0])) {
		t.Errorf("log:\n%s", logs.String())
	}
	// A later run reads the same key back, and warns about loose modes.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	k, err := (FileKey{Path: path, Create: true, Log: log}).Key(context.Background())
	if err != nil || !bytes.Equal(k, keys[0]) {
		t.Errorf("second read %x, %v", k, err)
	}
	if !strings.Contains(logs.String(), "readable by other users") {
		t.Errorf("no warning about mode 0644: %s", logs.String())
	}
}

// fakeKMS speaks the KMS JSON 1.1 protocol for Decrypt and checks the
// request it gets.
func fakeKMS(t *testing.T, keyID string, ciphertext, plaintext []byte) (*httptest.Server, *int) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if got := r.Header.Get("X-Amz-Target"); got != "TrentService.Decrypt" {
			t.Errorf("X-Amz-Target %q", got)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
			t.Errorf("Content-Type %q", ct)
		}
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			t.Errorf("request is not SigV4-signed")
		}
		body, _ := io.ReadAll(r.Body)
		var in struct {
			KeyId          string
			CiphertextBlob []byte // base64 in JSON
		}
		if err := json.Unmarshal(body, &in); err != nil {
			t.Errorf("body %s: %v", body, err)
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if in.KeyId != keyID || !bytes.Equal(in.CiphertextBlob, ciphertext) {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"__type":"InvalidCiphertextException","message":"wrong key or blob"}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{
			"KeyId": "arn:aws:kms:us-east-1:111122223333:key/" + keyID, "Plaintext": plaintext, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
		})
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func kmsClient(url string) *kms.Client {
	return kms.New(kms.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
	})
}

func TestKMSKey(t *testing.T) {
	plain := bytes.Repeat([]byte{0x42}, 32)
	blob := []byte("\x01\x02\x03 opaque ciphertext blob")
	srv, calls := fakeKMS(t, "1234abcd-12ab-34cd-56ef-1234567890ab", blob, plain)
	ctx := context.Background()

	// Through Source, as the runner builds it from a spec.
	policy := jobs.PIIPolicy{Set: true, KMSKeyID: "1234abcd-12ab-34cd-56ef-1234567890ab", EncryptedKey: blob}
	src, err := Source(policy, "job", "file:///lake", kmsClient(srv.URL), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	k, err := src.Key(ctx)
	if err != nil || !bytes.Equal(k, plain) || *calls != 1 {
		t.Fatalf("key %x, %v, %d calls", k, err, *calls)
	}

	// A wrong blob: KMS's error is returned, naming the key.
	_, err = KMSKey{Client: kmsClient(srv.URL), KeyID: policy.KMSKeyID, Ciphertext: []byte("other")}.Key(ctx)
	var invalid *kmstypes.InvalidCiphertextException
	// Text: the message names the key.
	if !errors.As(err, &invalid) || !strings.Contains(err.Error(), policy.KMSKeyID) {
		t.Errorf("wrong blob: %v", err)
	}

	// A short data key is refused.
	srv2, _ := fakeKMS(t, "k", blob, []byte("sixteen bytes!!!"))
	if _, err := (KMSKey{Client: kmsClient(srv2.URL), KeyID: "k", Ciphertext: blob}).Key(ctx); !errors.Is(err, ErrShortKey) {
		t.Errorf("short data key: %v", err)
	}
}

func TestSource(t *testing.T) {
	log := zerolog.Nop()
	s, err := Source(jobs.PIIPolicy{Set: true, KeyFile: "k.key", KeyPath: "/etc/tierflow/k.key"}, "j", "file:///lake", nil, log)
	if fk, ok := s.(FileKey); err != nil || !ok || fk.Path != "/etc/tierflow/k.key" || fk.Create {
		t.Errorf("key file source %#v, %v", s, err)
	}
	s, err = Source(jobs.PIIPolicy{Set: true}, "j", "file:///lake", nil, log)
	if fk, ok := s.(FileKey); err != nil || !ok || fk.Path != filepath.Join("/lake", "_tierflow", "keys", "j.hmac.key") || !fk.Create {
		t.Errorf("local lake source %#v, %v", s, err)
	}
	if _, err := Source(jobs.PIIPolicy{Set: true}, "j", "s3://bucket", nil, log); !errors.Is(err, ErrNoKey) {
		t.Errorf("s3 lake without a key: %v", err)
	}
	if _, err := Source(jobs.PIIPolicy{Set: true, KMSKeyID: "k", EncryptedKey: []byte("x")}, "j", "s3://b", nil, log); err == nil {
		t.Error("kms without a client accepted")
	}
}

func TestEncryptedKeyRoundTripsThroughSpec(t *testing.T) {
	// The spec carries base64; jobs decodes it and KMS receives the bytes.
	blob := []byte{0, 1, 2, 250, 251}
	spec := "name: j\nsource: {intake: \"in/{month}/\"}\nschema: [{name: a, type: string, pii: name}]\noutput: {table: t}\ncatalog: {database: d}\n" +
		"pii:\n  policy: {name: hmac}\n  kms_key_id: alias/tierflow\n  encrypted_key: " + base64.StdEncoding.EncodeToString(blob) + "\n"
	s, err := jobs.Parse("j.yaml", []byte(spec), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, calls := fakeKMS(t, "alias/tierflow", blob, bytes.Repeat([]byte{9}, 32))
	src, err := Source(s.PII, s.Name, "s3://bucket", kmsClient(srv.URL), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Key(context.Background()); err != nil || *calls != 1 {
		t.Errorf("%v, %d calls", err, *calls)
	}
}
