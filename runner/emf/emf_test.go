package emf

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestLine(t *testing.T) {
	at := time.UnixMilli(1585699200123)
	b, err := Line(at, "consumer-header", "2020-03", map[string]string{"Task": "convert", "Part": "part-0001"},
		[]Metric{{Name: PartRowsRead, Unit: "Count", Value: 1000}, {Name: PartWallTime, Unit: "Seconds", Value: 1.5}})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"_aws": map[string]any{"Timestamp": 1585699200123.0, "CloudWatchMetrics": []any{map[string]any{
			"Namespace":  "tierflow",
			"Dimensions": []any{[]any{"Job", "Month"}, []any{"Job"}},
			"Metrics":    []any{map[string]any{"Name": "PartRowsRead", "Unit": "Count"}, map[string]any{"Name": "PartWallTime", "Unit": "Seconds"}},
		}}},
		"Job": "consumer-header", "Month": "2020-03", "Task": "convert", "Part": "part-0001", "PartRowsRead": 1000.0, "PartWallTime": 1.5,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("line %s", b)
	}
	// Without a month the only dimension set is {Job}.
	b, _ = Line(at, "j", "", nil, []Metric{{Name: MonthLate, Unit: "Count", Value: 1}})
	if err := json.Unmarshal(b, &got); err != nil || !reflect.DeepEqual(got["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Dimensions"], []any{[]any{"Job"}}) {
		t.Errorf("line without month %s", b)
	}
	if _, err := Line(at, "j", "m", map[string]string{"RowsIn": "x"}, []Metric{{Name: RowsIn, Unit: "Count", Value: 1}}); err == nil {
		t.Error("a metric named like a property was written")
	}
}
