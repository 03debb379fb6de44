package storage

import (
	"context"
	"maps"
	"strings"
)

// Tagger is a store whose objects carry tags (S3). Tag sets each of tags
// on key, or removes it when its value is "", keeping the others.
type Tagger interface {
	Tag(ctx context.Context, key string, tags map[string]string) error
}

// WithTags returns s writing tags on every object it creates under
// prefix (merged into the caller's PutOptions.Tags).
func WithTags(s Storage, prefix string, tags map[string]string) Storage {
	return &tagging{Storage: s, prefix: prefix, tags: tags}
}

type tagging struct {
	Storage
	prefix string
	tags   map[string]string
}

func (t *tagging) Create(ctx context.Context, key string, opts PutOptions) (Writer, error) {
	if strings.HasPrefix(key, t.prefix) {
		all := maps.Clone(t.tags)
		maps.Copy(all, opts.Tags)
		opts.Tags = all
	}
	return t.Storage.Create(ctx, key, opts)
}
