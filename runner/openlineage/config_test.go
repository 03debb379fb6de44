package openlineage

import (
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigWithEnv(t *testing.T) {
	spec := Config{URL: "http://marquez.internal:5000", Namespace: "lake-prod"}
	c, err := spec.WithEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := c.EndpointURL(); u != "http://marquez.internal:5000/api/v1/lineage" || c.Namespace != "lake-prod" || c.Disabled {
		t.Errorf("spec only: endpoint %s namespace %s disabled %v", u, c.Namespace, c.Disabled)
	}
	if c.Retries != DefaultRetries || c.Timeout != DefaultTimeout || c.Backoff != DefaultBackoff || c.FlushTimeout != DefaultFlushTimeout {
		t.Errorf("defaults not filled in: %+v", c)
	}

	// The environment wins: it is the deployment's.
	c, err = spec.WithEnv(env(map[string]string{
		EnvURL: "https://lineage.example.com/", EnvEndpoint: "/v2/events", EnvAPIKey: "k3y", EnvNamespace: "from-env",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := c.EndpointURL(); u != "https://lineage.example.com/v2/events" || c.APIKey != "k3y" || c.Namespace != "from-env" {
		t.Errorf("env: endpoint %s key set %v namespace %s", u, c.APIKey != "", c.Namespace)
	}

	c, err = Config{}.WithEnv(env(map[string]string{EnvDisabled: "true"}))
	if err != nil || !c.Disabled || c.Namespace != DefaultNamespace || c.URL != "" {
		t.Errorf("disabled, no URL: %+v, %v", c, err)
	}

	for _, bad := range []map[string]string{
		{EnvDisabled: "sometimes"},
		{EnvURL: "marquez:5000"},
		{EnvURL: "ftp://marquez"},
		{EnvURL: "http://user:secret@marquez:5000"},
	} {
		_, err := Config{}.WithEnv(env(bad))
		if err == nil {
			t.Errorf("%v: accepted", bad)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("%v: the error shows the password: %v", bad, err)
		}
	}
}
