package athena

import (
	"errors"
	"testing"

	"github.com/tierflow/tierflow/lake/engine/sqltok"
)

func TestShadow(t *testing.T) {
	scratch := map[tableRef]tableRef{
		{"consumer", "people"}: {"scratch", "people__tf_1"},
		{"other", "states"}:    {"scratch", "states__tf_1"},
	}
	cases := []struct{ name, in, want string }{
		{"Unqualified",
			`SELECT id FROM people WHERE state = 'CA'`,
			`WITH "people" AS (SELECT * FROM "scratch"."people__tf_1")` + "\n" + `SELECT id FROM people WHERE state = 'CA'`},
		{"QualifiedQuotedAndNot",
			`SELECT p.id FROM "Consumer"."PEOPLE" p JOIN other.states s ON p.state = s.state`,
			`WITH "people" AS (SELECT * FROM "scratch"."people__tf_1")` + "\n" +
				`SELECT p.id FROM "scratch"."people__tf_1" p JOIN "scratch"."states__tf_1" s ON p.state = s.state`},
		{"CatalogQualified",
			`SELECT * FROM awsdatacatalog.consumer.people`,
			`WITH "people" AS (SELECT * FROM "scratch"."people__tf_1")` + "\n" + `SELECT * FROM awsdatacatalog."scratch"."people__tf_1"`},
		{"LiteralsAndCommentsUntouched",
			`SELECT 'consumer.people' AS s, "x" FROM t -- consumer.people` + "\n" + `/* consumer.people */`,
			`WITH "people" AS (SELECT * FROM "scratch"."people__tf_1")` + "\n" + `SELECT 'consumer.people' AS s, "x" FROM t -- consumer.people` + "\n" + `/* consumer.people */`},
		{"ColumnOfQualifiedTableNotATable",
			`SELECT consumer.people.id FROM x`,
			`WITH "people" AS (SELECT * FROM "scratch"."people__tf_1")` + "\n" + `SELECT consumer.people.id FROM x`},
		{"MergedIntoOwnWith",
			`WITH ca AS (SELECT * FROM people WHERE state = 'CA') SELECT * FROM ca`,
			`WITH "people" AS (SELECT * FROM "scratch"."people__tf_1"), ca AS (SELECT * FROM people WHERE state = 'CA') SELECT * FROM ca`},
		{"OwnCTEShadowsTable",
			`WITH people AS (SELECT * FROM "consumer"."people" WHERE "month" = '2020-03') SELECT id FROM people`,
			`WITH people AS (SELECT * FROM "scratch"."people__tf_1" WHERE "month" = '2020-03') SELECT id FROM people`},
		{"Recursive",
			`WITH RECURSIVE r(n) AS (SELECT 1) SELECT * FROM r, people`,
			`WITH RECURSIVE "people" AS (SELECT * FROM "scratch"."people__tf_1"), r(n) AS (SELECT 1) SELECT * FROM r, people`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := shadow(c.in, "consumer", scratch)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("shadow(%q)\n got  %q\n want %q", c.in, got, c.want)
			}
		})
	}
	if _, err := shadow(`SELECT 'unterminated FROM people`, "consumer", scratch); !errors.Is(err, sqltok.ErrUnterminated) {
		t.Errorf("unterminated literal: %v", err)
	}
}
