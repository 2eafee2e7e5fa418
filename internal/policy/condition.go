package policy

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

var knownOperators = map[string]bool{
	"StringEquals": true, "StringNotEquals": true, "StringEqualsIgnoreCase": true, "StringNotEqualsIgnoreCase": true,
	"StringLike": true, "StringNotLike": true,
	"NumericEquals": true, "NumericNotEquals": true, "NumericLessThan": true, "NumericLessThanEquals": true,
	"NumericGreaterThan": true, "NumericGreaterThanEquals": true,
	"DateEquals": true, "DateNotEquals": true, "DateLessThan": true, "DateLessThanEquals": true,
	"DateGreaterThan": true, "DateGreaterThanEquals": true,
	"Bool": true, "IpAddress": true, "NotIpAddress": true,
	"ArnEquals": true, "ArnLike": true, "ArnNotEquals": true, "ArnNotLike": true,
	"Null": true,
}

// negated operators hold when no value matches.
var negated = map[string]string{
	"StringNotEquals": "StringEquals", "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase", "StringNotLike": "StringLike",
	"NumericNotEquals": "NumericEquals", "DateNotEquals": "DateEquals", "NotIpAddress": "IpAddress",
	"ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike",
}

// checkValues rejects condition values the operator cannot use.
func checkValues(c Condition) error {
	op := c.Operator
	if pos, ok := negated[op]; ok {
		op = pos
	}
	for _, v := range c.Values {
		var ok bool
		switch {
		case strings.HasPrefix(op, "Numeric"):
			_, err := strconv.ParseFloat(v, 64)
			ok = err == nil
		case strings.HasPrefix(op, "Date"):
			_, ok = parseTime(v)
		case op == "Bool" || op == "Null":
			ok = v == "true" || v == "false"
		case op == "IpAddress":
			_, ok = parsePrefix(v)
		default:
			ok = true
		}
		if !ok && !strings.Contains(v, "${") {
			return malformed("condition %s on %s: %q is not a valid value", c.Operator, c.Key, v)
		}
	}
	return nil
}

// holds evaluates the condition against the request context.
func (c Condition) holds(ctx map[string][]string) bool {
	have, present := ctx[c.Key]
	if c.Operator == "Null" {
		for _, v := range c.Values {
			if (v == "true") == present {
				return false
			}
		}
		return true
	}
	op, neg := c.Operator, false
	if pos, ok := negated[op]; ok {
		op, neg = pos, true
	}
	values := c.Values
	if !present || len(have) == 0 {
		switch {
		case c.Set == "ForAllValues":
			return true
		case c.IfExists:
			return true
		}
		return neg
	}
	var expanded []string
	for _, v := range values {
		if e, ok := expand(v, ctx); ok {
			expanded = append(expanded, e)
		}
	}
	matchOne := func(h string) bool {
		for _, v := range expanded {
			if compare(op, h, v) {
				return true
			}
		}
		return false
	}
	switch c.Set {
	case "ForAllValues":
		for _, h := range have {
			if matchOne(h) == neg {
				return false
			}
		}
		return true
	case "ForAnyValue":
		for _, h := range have {
			if matchOne(h) != neg {
				return true
			}
		}
		return false
	}
	any := false
	for _, h := range have {
		any = any || matchOne(h)
	}
	return any != neg
}

// compare applies a positive operator to a request value and a policy
// value.
func compare(op, have, want string) bool {
	switch op {
	case "StringEquals":
		return have == want
	case "StringEqualsIgnoreCase":
		return strings.EqualFold(have, want)
	case "StringLike":
		return globMatch(want, have)
	case "ArnEquals", "ArnLike":
		return arnMatch(want, have)
	case "Bool":
		return strings.EqualFold(have, want)
	case "IpAddress":
		p, ok := parsePrefix(want)
		a, err := netip.ParseAddr(have)
		return ok && err == nil && p.Contains(a.Unmap())
	}
	if strings.HasPrefix(op, "Numeric") {
		h, err1 := strconv.ParseFloat(have, 64)
		w, err2 := strconv.ParseFloat(want, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		return cmp(op[len("Numeric"):], h, w)
	}
	if strings.HasPrefix(op, "Date") {
		h, ok1 := parseTime(have)
		w, ok2 := parseTime(want)
		if !ok1 || !ok2 {
			return false
		}
		return cmp(op[len("Date"):], float64(h.UnixNano()), float64(w.UnixNano()))
	}
	return false
}

func cmp(rel string, h, w float64) bool {
	switch rel {
	case "Equals":
		return h == w
	case "LessThan":
		return h < w
	case "LessThanEquals":
		return h <= w
	case "GreaterThan":
		return h > w
	case "GreaterThanEquals":
		return h >= w
	}
	return false
}

// arnMatch matches ARNs segment by segment (the six colon-separated
// parts), with * and ? inside a segment.
func arnMatch(p, s string) bool {
	pp, ss := strings.SplitN(p, ":", 6), strings.SplitN(s, ":", 6)
	if len(pp) != 6 || len(ss) != 6 {
		return globMatch(p, s)
	}
	for i := range pp {
		if !globMatch(pp[i], ss[i]) {
			return false
		}
	}
	return true
}

func parseTime(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z", "2006-01-02T15:04Z", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0), true
	}
	return time.Time{}, false
}

func parsePrefix(v string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(v); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(v); err == nil {
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), true
	}
	return netip.Prefix{}, false
}
