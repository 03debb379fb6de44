package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/runner"
)

func TestPrintCost(t *testing.T) {
	v := runner.CostView{Job: "j", PricesAsOf: runner.StoragePricesAsOf, PriceSource: runner.StoragePricesSource, Local: true, TotalUSD: 0.0345,
		Rows: []runner.AtRest{
			{Month: "2020-03", Tier: "tier1", Class: "DEEP_ARCHIVE", Objects: 4, Bytes: 3 << 30, USD: 0.00297},
			{Month: "2020-03", Tier: "tier2", Class: "STANDARD", Objects: 240, Bytes: 1 << 30, USD: 0.023},
		}}
	var b bytes.Buffer
	if err := printCost(&b, v); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"MONTH", "tier1", "DEEP_ARCHIVE", "0.00099", "0.0030", "3.00 GiB", "total", "0.0345", "priced as S3 Standard", runner.StoragePricesSource} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := printCost(&b, runner.CostView{Job: "j"}); err != nil || !strings.Contains(b.String(), "keeps nothing") {
		t.Errorf("empty: %q %v", b.String(), err)
	}
}
