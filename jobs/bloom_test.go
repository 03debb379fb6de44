package jobs

import (
	"slices"
	"strings"
	"testing"
)

func TestParseBloomFilter(t *testing.T) {
	files := goodFiles()
	files["dir/job.yaml"] = strings.Replace(minimalSpec, "  bucket_count: 4\n", "  bucket_count: 4\n  bloom_filter: [zipcode, householdid]\n", 1)
	s, err := parseFiles(t, files)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"zipcode", "householdid"}; !slices.Equal(s.Output.BloomFilter, want) {
		t.Errorf("Output.BloomFilter = %q, want %q", s.Output.BloomFilter, want)
	}

	files["dir/job.yaml"] = strings.Replace(minimalSpec, "  bucket_count: 4\n", "  bucket_count: 4\n  bloom_filter: [zipcode, nope, zipcode, c_2ndhome]\n", 1)
	_, err = parseFiles(t, files)
	f := "dir/job.yaml"
	wantProblems(t, err,
		f+":10: output.bloom_filter: no column \"nope\"",
		f+":10: output.bloom_filter: \"zipcode\" is listed twice",
		f+":10: output.bloom_filter: column \"c_2ndhome\" is boolean",
	)
}
