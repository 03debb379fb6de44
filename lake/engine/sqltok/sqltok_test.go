package sqltok

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestLex(t *testing.T) {
	toks, err := Lex("SELECT \"a\"\"b\", 'it''s' -- c\n/* d */ FROM db.t1 WHERE x >= 1.5\f")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tk := range toks {
		got = append(got, fmt.Sprintf("%c:%s", tk.Kind, tk.Text))
	}
	want := `w:SELECT q:a"b p:, s:it's w:FROM w:db p:. w:t1 w:WHERE w:x p:> p:= n:1.5`
	if strings.Join(got, " ") != want {
		t.Errorf("tokens\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
	if name, ok := toks[1].Ident(); !ok || name != `a"b` {
		t.Errorf("quoted identifier: %q %v", name, ok)
	}
	if !toks[4].Is("from") || toks[3].Is("it's") {
		t.Error("Is matches words only, case-insensitively")
	}
	s := "SELECT 'abc'"
	if toks2, _ := Lex(s); toks2[1].Start != 7 || toks2[1].End != len(s) {
		t.Errorf("offsets %d..%d", toks2[1].Start, toks2[1].End)
	}
	for _, bad := range []string{"SELECT 'x", `SELECT "x`, "/* open"} {
		if _, err := Lex(bad); !errors.Is(err, ErrUnterminated) {
			t.Errorf("Lex(%q) = %v, want ErrUnterminated", bad, err)
		}
	}
}
