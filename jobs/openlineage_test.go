package jobs

import "testing"

func TestParseOpenLineage(t *testing.T) {
	files := goodFiles()
	files["dir/job.yaml"] = minimalSpec + "openlineage: {url: \"http://marquez:5000\", namespace: lake-prod}\n"
	s, err := parseFiles(t, files)
	if err != nil {
		t.Fatal(err)
	}
	if o := s.OpenLineage; o.URL != "http://marquez:5000" || o.Namespace != "lake-prod" || o.Endpoint != "" {
		t.Errorf("openlineage section: %+v", o)
	}
	files["dir/job.yaml"] = minimalSpec + "openlineage:\n  url: marquez:5000\n  api_key: k\n"
	_, err = parseFiles(t, files)
	wantProblems(t, err,
		`dir/job.yaml:12: openlineage.url: "marquez:5000" is not an http(s)://host[:port] URL`,
		`dir/job.yaml:13: openlineage: unknown key "api_key"`) // a key only comes from OPENLINEAGE_API_KEY
	files["dir/job.yaml"] = minimalSpec + "openlineage: {url: \"https://u:p@marquez\"}\n"
	_, err = parseFiles(t, files)
	wantProblems(t, err, "dir/job.yaml:11: openlineage.url: credentials do not belong in a job spec")
}
