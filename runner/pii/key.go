package pii

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
)

// KeySource supplies the HMAC key. Implementations never log the key.
type KeySource interface {
	Key(ctx context.Context) ([]byte, error)
}

// FileKey reads the key from a local file: at least MinKeyBytes random
// bytes, either raw or written as hex digits (surrounding white space
// ignored; a file that is all hex digits after trimming is read as hex).
// With Create, a missing file is created first with a new random key,
// written as 64 hex digits, mode 0600, in a directory of mode 0700.
type FileKey struct {
	Path   string
	Create bool
	Log    zerolog.Logger
}

// Key reads (or first creates) the key file.
func (k FileKey) Key(ctx context.Context) ([]byte, error) {
	data, err := os.ReadFile(k.Path)
	if errors.Is(err, fs.ErrNotExist) && k.Create {
		if err := k.create(); err != nil {
			return nil, err
		}
		data, err = os.ReadFile(k.Path)
	}
	if err != nil {
		return nil, fmt.Errorf("hmac key file: %w", err)
	}
	if info, err := os.Stat(k.Path); err == nil && info.Mode().Perm()&0o077 != 0 {
		k.Log.Warn().Str("key_file", k.Path).Str("mode", info.Mode().Perm().String()).
			Msg("the HMAC key file is readable by other users; chmod 600 it")
	}
	key, err := ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("hmac key file %s: %w", k.Path, err)
	}
	return key, nil
}

// create writes a new random key under a temporary name and links it into
// place, so concurrent runs agree on one key and no run ever reads a
// half-written file.
func (k FileKey) create() error {
	dir := filepath.Dir(k.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("hmac key directory: %w", err)
	}
	raw := make([]byte, MinKeyBytes)
	if _, err := rand.Read(raw); err != nil {
		return fmt.Errorf("generate hmac key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".key-*")
	if err != nil {
		return fmt.Errorf("hmac key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("hmac key file: %w", err)
	}
	_, werr := tmp.WriteString(hex.EncodeToString(raw) + "\n")
	serr := tmp.Sync()
	if err := errors.Join(werr, serr, tmp.Close()); err != nil {
		return fmt.Errorf("hmac key file: %w", err)
	}
	if err := os.Link(tmp.Name(), k.Path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // another run created it first; use theirs
		}
		return fmt.Errorf("hmac key file: %w", err)
	}
	k.Log.Info().Str("key_file", k.Path).Msg("generated a new HMAC key for the PII policy; keep this file: tokens made with another key will not match")
	return nil
}

// Errors of a missing or unusable HMAC key; the message around them says
// where the key was looked for.
var (
	// ErrShortKey: the key has fewer than MinKeyBytes bytes.
	ErrShortKey = errors.New("pii: hmac key too short")
	// ErrNoKey: the policy hashes values but the job gives no key and
	// none is generated for its lake.
	ErrNoKey = errors.New("pii: no hmac key")
)

// ParseKey decodes a key file's content (see FileKey).
func ParseKey(data []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && len(trimmed)%2 == 0 && isHex(trimmed) {
		key, err := hex.DecodeString(string(trimmed))
		if err != nil {
			return nil, err
		}
		data = key
	}
	if len(data) < MinKeyBytes {
		return nil, fmt.Errorf("%w: holds a %d-byte key; at least %d random bytes (or %d hex digits) are needed", ErrShortKey, len(data), MinKeyBytes, 2*MinKeyBytes)
	}
	return data, nil
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// KMSDecrypter is the one KMS call KMSKey makes; *kms.Client satisfies it.
type KMSDecrypter interface {
	Decrypt(ctx context.Context, in *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// KMSKey decrypts a data key (the CiphertextBlob of a KMS GenerateDataKey,
// e.g. AES_256) with KMS Decrypt under KeyID; its plaintext is the key.
type KMSKey struct {
	Client     KMSDecrypter
	KeyID      string
	Ciphertext []byte
}

// Key calls KMS Decrypt.
func (k KMSKey) Key(ctx context.Context) ([]byte, error) {
	out, err := k.Client.Decrypt(ctx, &kms.DecryptInput{KeyId: &k.KeyID, CiphertextBlob: k.Ciphertext})
	if err != nil {
		return nil, fmt.Errorf("kms decrypt of the hmac data key under %s: %w", k.KeyID, err)
	}
	if len(out.Plaintext) < MinKeyBytes {
		return nil, fmt.Errorf("%w: kms decrypt under %s gave a %d-byte key; at least %d bytes are needed (GenerateDataKey with KeySpec AES_256)", ErrShortKey, k.KeyID, len(out.Plaintext), MinKeyBytes)
	}
	return out.Plaintext, nil
}

// LakeKeyPath is where a local lake keeps a job's generated HMAC key.
func LakeKeyPath(lakeDir, job string) string {
	return filepath.Join(lakeDir, "_tierflow", "keys", job+".hmac.key")
}

// Source picks the key source of a job's policy: KMS when kms_key_id is
// set (client must then be non-nil), else the spec's key_file, else, for
// a local lake (lakeURI file://DIR), a key generated on first use at
// LakeKeyPath. Any other lake needs one of the first two.
func Source(p jobs.PIIPolicy, job, lakeURI string, client KMSDecrypter, log zerolog.Logger) (KeySource, error) {
	switch {
	case p.KMSKeyID != "":
		if client == nil {
			return nil, errors.New("pii.kms_key_id is set but no KMS client was given")
		}
		return KMSKey{Client: client, KeyID: p.KMSKeyID, Ciphertext: p.EncryptedKey}, nil
	case p.KeyFile != "":
		return FileKey{Path: p.KeyPath, Log: log}, nil
	case strings.HasPrefix(lakeURI, "file://"):
		return FileKey{Path: LakeKeyPath(strings.TrimPrefix(lakeURI, "file://"), job), Create: true, Log: log}, nil
	}
	return nil, fmt.Errorf("%w: the PII policy hashes values but job %s names no key: set pii.key_file, or pii.kms_key_id with pii.encrypted_key (a lake other than file:// gets no generated key)", ErrNoKey, job)
}
