package awsapi

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDecodeJSON(t *testing.T) {
	type req struct {
		Name  string            `json:"name"`
		Count int               `json:"count"`
		Tags  map[string]string `json:"tags"`
	}
	cases := map[string]struct {
		body string
		code string // "" for success
		msg  string
	}{
		"ok/empty":          {"", "", ""},
		"ok/spaces":         {"  \n", "", ""},
		"ok/unknown-fields": {`{"name":"a","extra":1}`, "", ""},
		"fail/syntax":       {`{"name":`, "SerializationException", "not valid JSON"},
		"fail/type":         {`{"count":"x"}`, "SerializationException", `"count" must be a JSON number`},
		"fail/map-type":     {`{"tags":[1]}`, "SerializationException", `"tags" must be a JSON object`},
		"fail/trailing":     {`{} {}`, "SerializationException", "more than one"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var v req
			err := DecodeJSON(httptest.NewRequest("POST", "/", strings.NewReader(c.body)), &v)
			if c.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != c.code || e.Status != 400 || !strings.Contains(e.Message, c.msg) {
				t.Errorf("DecodeJSON = %v, want %s containing %q", err, c.code, c.msg)
			}
		})
	}
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add(`{"platformId":"AWSLambda-SHA384-ECDSA","signatureValidityPeriod":{"value":135,"type":"MONTHS"},"tags":{"a":"b"}}`)
	f.Add(`{"platformId":5}`)
	f.Add(`[`)
	f.Fuzz(func(t *testing.T, body string) {
		var v struct {
			PlatformID string `json:"platformId"`
			Validity   *struct {
				Value int    `json:"value"`
				Type  string `json:"type"`
			} `json:"signatureValidityPeriod"`
			Tags map[string]string `json:"tags"`
		}
		err := DecodeJSON(httptest.NewRequest("PUT", "/", strings.NewReader(body)), &v)
		var e *Error
		if err != nil && (!errors.As(err, &e) || e.Status != 400) {
			t.Fatalf("DecodeJSON(%q) = %v, want a 400 *Error", body, err)
		}
	})
}
