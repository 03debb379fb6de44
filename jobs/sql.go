package jobs

import (
	"errors"
	"strings"
)

// sqlToken is one lexical token of a derived table's SQL: a word (keyword
// or identifier, lowercased; quoted identifiers unquoted) or one
// punctuation byte. String literals and comments are dropped.
type sqlToken struct {
	word  string
	punct byte
}

// lexSQL splits sql into tokens. It knows just enough SQL (the subset
// Trino and DuckDB share) to find statements and identifiers.
func lexSQL(sql string) ([]sqlToken, error) {
	var toks []sqlToken
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return nil, errors.New("unterminated /* comment")
			}
			i += end + 4
		case c == '\'':
			j, ok := closeQuote(sql, i, '\'')
			if !ok {
				return nil, errors.New("unterminated string literal")
			}
			i = j
		case c == '"':
			j, ok := closeQuote(sql, i, '"')
			if !ok {
				return nil, errors.New("unterminated quoted identifier")
			}
			word := strings.ReplaceAll(sql[i+1:j-1], `""`, `"`)
			toks = append(toks, sqlToken{word: strings.ToLower(word)})
			i = j
		case isWordByte(c):
			j := i
			for j < len(sql) && isWordByte(sql[j]) {
				j++
			}
			toks = append(toks, sqlToken{word: strings.ToLower(sql[i:j])})
			i = j
		default:
			toks = append(toks, sqlToken{punct: c})
			i++
		}
	}
	return toks, nil
}

// closeQuote returns the index just past the quote closing the one at
// sql[i]; a doubled quote is an escaped quote.
func closeQuote(sql string, i int, q byte) (int, bool) {
	for j := i + 1; j < len(sql); j++ {
		if sql[j] == q {
			if j+1 < len(sql) && sql[j+1] == q {
				j++
				continue
			}
			return j + 1, true
		}
	}
	return 0, false
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// checkSelect accepts exactly one SELECT or WITH … SELECT statement, with
// at most a trailing ';'. CTAS wraps the statement, so anything else
// (DDL, DML, a second statement) cannot be allowed.
func checkSelect(sql string) ([]sqlToken, error) {
	toks, err := lexSQL(sql)
	if err != nil {
		return nil, err
	}
	for len(toks) > 0 && toks[len(toks)-1].punct == ';' {
		toks = toks[:len(toks)-1]
	}
	if len(toks) == 0 {
		return nil, errors.New("is empty")
	}
	for _, t := range toks {
		if t.punct == ';' {
			return nil, errors.New("holds more than one statement (';' before the end)")
		}
	}
	first := 0
	for first < len(toks) && toks[first].punct == '(' {
		first++
	}
	if first == len(toks) || (toks[first].word != "select" && toks[first].word != "with") {
		return nil, errors.New("must be a single SELECT (or WITH … SELECT) statement")
	}
	return toks, nil
}

// selectsAll reports whether the statement has a `*` select item
// (SELECT *, t.*, a, *), as opposed to count(*) or a multiplication.
func selectsAll(toks []sqlToken) bool {
	for i, t := range toks {
		if t.punct != '*' || i == 0 {
			continue
		}
		p := toks[i-1]
		if p.punct == '.' || p.punct == ',' && inSelectList(toks, i) || p.word == "select" || p.word == "distinct" || p.word == "all" {
			return true
		}
	}
	return false
}

// inSelectList reports whether token i sits between a SELECT and its FROM
// at parenthesis depth 0 relative to that SELECT.
func inSelectList(toks []sqlToken, i int) bool {
	depth := 0
	for j := i - 1; j >= 0; j-- {
		switch {
		case toks[j].punct == ')':
			depth++
		case toks[j].punct == '(':
			if depth == 0 {
				return false // inside a call such as f(a, *)
			}
			depth--
		case depth == 0 && toks[j].word == "from":
			return false
		case depth == 0 && toks[j].word == "select":
			return true
		}
	}
	return false
}
