package openlineage

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

var (
	people = SourceTable{Name: "consumer_header", Dataset: Dataset{Namespace: "s3://lake", Name: "tier2/consumer_header"},
		Columns: []string{"personid", "firstname", "lastname", "state", "zipcode", "age", "segment", "income", "ts", "date"}}
	homes = SourceTable{Name: "homes", Dataset: Dataset{Namespace: "s3://lake", Name: "tier3/homes"},
		Columns: []string{"personid", "value", "kind"}}
)

// describe renders lineage as "out <- ds.field TYPE/SUBTYPE" lines and
// dataset entries as "* ds.field TYPE/SUBTYPE", sorted.
func describe(fields map[string]FieldLineage, dataset []InputField) []string {
	var out []string
	short := func(f InputField) string {
		t := f.Transformations[0]
		return fmt.Sprintf("%s.%s %s/%s", f.Name[strings.LastIndex(f.Name, "/")+1:], f.Field, t.Type, t.Subtype)
	}
	for col, fl := range fields {
		if len(fl.InputFields) == 0 {
			out = append(out, col+" <- (nothing)")
		}
		for _, f := range fl.InputFields {
			out = append(out, col+" <- "+short(f))
		}
	}
	for _, f := range dataset {
		out = append(out, "* "+short(f))
	}
	slices.Sort(out)
	return out
}

func TestColumnLineage(t *testing.T) {
	for _, c := range []struct {
		name    string
		sql     string
		sources []SourceTable
		outputs []string
		want    []string
	}{{
		name: "the shipped consumer_ca: columns as they are, filtered by state",
		sql: `SELECT firstname, lastname, state, zipcode
		      FROM consumer_header
		      WHERE state = 'CA'`,
		outputs: []string{"firstname", "lastname", "state", "zipcode"},
		want: []string{
			"* consumer_header.state INDIRECT/FILTER",
			"firstname <- consumer_header.firstname DIRECT/IDENTITY",
			"lastname <- consumer_header.lastname DIRECT/IDENTITY",
			"state <- consumer_header.state DIRECT/IDENTITY",
			"zipcode <- consumer_header.zipcode DIRECT/IDENTITY",
		},
	}, {
		name: "aggregates, aliases with and without AS, GROUP BY an ordinal, ORDER BY an alias",
		sql: `SELECT state, count(*) AS n, sum(income) total, lower(segment) AS seg
		      FROM consumer_header GROUP BY 1, segment HAVING count(*) > 10 ORDER BY total DESC`,
		outputs: []string{"state", "n", "total", "seg"},
		want: []string{
			"* consumer_header.income INDIRECT/SORT",
			"* consumer_header.segment INDIRECT/GROUP_BY",
			"* consumer_header.state INDIRECT/GROUP_BY",
			"n <- (nothing)",
			"seg <- consumer_header.segment DIRECT/TRANSFORMATION",
			"state <- consumer_header.state DIRECT/IDENTITY",
			"total <- consumer_header.income DIRECT/AGGREGATION",
		},
	}, {
		name: "a join with aliases, qualified columns and a quoted identifier",
		sql: `SELECT p.personid, upper(p."lastname") AS lastname, h.value
		      FROM consumer_header AS p JOIN homes h ON p.personid = h.personid
		      WHERE h.kind = 'house' AND p.age >= 18`,
		sources: []SourceTable{people, homes},
		outputs: []string{"personid", "lastname", "value"},
		want: []string{
			"* consumer_header.age INDIRECT/FILTER",
			"* consumer_header.personid INDIRECT/JOIN",
			"* homes.kind INDIRECT/FILTER",
			"* homes.personid INDIRECT/JOIN",
			"lastname <- consumer_header.lastname DIRECT/TRANSFORMATION",
			"personid <- consumer_header.personid DIRECT/IDENTITY",
			"value <- homes.value DIRECT/IDENTITY",
		},
	}, {
		name:    "USING and a star over one table",
		sql:     `SELECT h.* FROM consumer_header LEFT JOIN homes AS h USING (personid)`,
		sources: []SourceTable{people, homes},
		outputs: []string{"personid", "value", "kind"},
		want: []string{
			"* consumer_header.personid INDIRECT/JOIN",
			"* homes.personid INDIRECT/JOIN",
			"kind <- homes.kind DIRECT/IDENTITY",
			"personid <- homes.personid DIRECT/IDENTITY",
			"value <- homes.value DIRECT/IDENTITY",
		},
	}, {
		name:    "CASE conditions and window partitions are indirect, for their column only",
		sql:     `SELECT CASE WHEN age > 65 THEN 'senior' ELSE segment END AS band, row_number() OVER (PARTITION BY state ORDER BY income DESC) AS rn FROM consumer_header`,
		outputs: []string{"band", "rn"},
		want: []string{
			"band <- consumer_header.age INDIRECT/CONDITIONAL",
			"band <- consumer_header.segment DIRECT/TRANSFORMATION",
			"rn <- consumer_header.income INDIRECT/WINDOW",
			"rn <- consumer_header.state INDIRECT/WINDOW",
		},
	}, {
		name:    "a CAST's type is not a column, even one that has a column's name",
		sql:     `SELECT CAST(ts AS date) AS day, "date" FROM consumer_header`,
		outputs: []string{"day", "date"},
		want: []string{
			"date <- consumer_header.date DIRECT/IDENTITY",
			"day <- consumer_header.ts DIRECT/TRANSFORMATION",
		},
	}} {
		t.Run(c.name, func(t *testing.T) {
			srcs := c.sources
			if srcs == nil {
				srcs = []SourceTable{people}
			}
			fields, dataset, err := ColumnLineage(c.sql, srcs, c.outputs)
			if err != nil {
				t.Fatal(err)
			}
			if got := describe(fields, dataset); !slices.Equal(got, c.want) {
				t.Errorf("lineage:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
			}
		})
	}
}

func TestColumnLineageRefuses(t *testing.T) {
	for sql, outputs := range map[string][]string{
		"WITH ca AS (SELECT * FROM consumer_header) SELECT state FROM ca":                  {"state"},
		"SELECT state FROM consumer_header UNION SELECT state FROM consumer_header":        {"state"},
		"SELECT state FROM consumer_header WHERE age IN (SELECT age FROM consumer_header)": {"state"},
		"SELECT state FROM (SELECT state FROM consumer_header) x":                          {"state"},
		"SELECT x FROM UNNEST(ARRAY[1, 2]) AS t(x)":                                        {"x"},
		"SELECT state FROM other_table":                                                    {"state"},
		"SELECT state, zipcode FROM consumer_header":                                       {"state"}, // the result has another shape
		"SELECT * FROM consumer_header":                                                    {"state"},
		"SELECT 'unterminated FROM consumer_header":                                        {"x"},
	} {
		if f, d, err := ColumnLineage(sql, []SourceTable{people}, outputs); !errors.Is(err, ErrUnsupportedSQL) {
			t.Errorf("%s: %v, %v, %v; want ErrUnsupportedSQL", sql, describe(f, d), d, err)
		}
	}
}

func TestMarkMasked(t *testing.T) {
	fields, dataset, err := ColumnLineage("SELECT firstname, state FROM consumer_header WHERE state = 'CA'", []SourceTable{people}, []string{"firstname", "state"})
	if err != nil {
		t.Fatal(err)
	}
	MarkMasked(fields, "firstname", "PII policy: hmac")
	tr := fields["firstname"].InputFields[0].Transformations[0]
	if tr.Type != Direct || tr.Subtype != Transformation || !tr.Masking || tr.Description != "PII policy: hmac" {
		t.Errorf("masked firstname: %+v", tr)
	}
	if tr := fields["state"].InputFields[0].Transformations[0]; tr.Masking || tr.Subtype != Identity {
		t.Errorf("state was not masked but reads %+v", tr)
	}
	if dataset[0].Transformations[0].Masking {
		t.Errorf("the filter on state was marked masking")
	}
}
