package main

import (
	"strings"
	"testing"

	"github.com/imalert/imalert/config"
)

func TestParseMatchers(t *testing.T) {
	tests := []struct {
		args []string
		want string
		err  string
	}{
		{[]string{"error_code=10023"}, `{"error_code":"10023"}`, ""},
		{[]string{"error_code=10017,80001-80004", "GroupId=~^@TGS#2J,x"}, `{"GroupId":{"regex":"^@TGS#2J,x"},"error_code":["10017","80001-80004"]}`, ""},
		{[]string{"From_Account=a=b"}, `{"From_Account":"a=b"}`, ""},
		{nil, "", "at least one FIELD=VALUE"},
		{[]string{"error_code"}, "", "want FIELD=VALUE"},
		{[]string{"=1"}, "", "want FIELD=VALUE"},
		{[]string{"code=1", "code=2"}, "", "code given twice"},
	}
	for _, tt := range tests {
		got, err := parseMatchers(tt.args)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseMatchers(%q) err = %v, want %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("parseMatchers(%q) = %s, %v; want %s", tt.args, got, err, tt.want)
		}
	}
}

func TestAdminURL(t *testing.T) {
	tests := []struct {
		listen, admin string
		tls           bool
		want          string
	}{
		{"127.0.0.1:8080", "", false, "http://127.0.0.1:8080"},
		{"0.0.0.0:8080", "", false, "http://127.0.0.1:8080"},
		{":8080", "", true, "https://127.0.0.1:8080"},
		{"0.0.0.0:443", "127.0.0.1:9090", true, "http://127.0.0.1:9090"},
		{"10.0.0.5:8080", "[::]:9090", false, "http://127.0.0.1:9090"},
	}
	for _, tt := range tests {
		c := &config.Config{Listen: tt.listen, Admin: config.Admin{Listen: tt.admin}}
		if tt.tls {
			c.Server.TLS = config.TLS{CertFile: "c.pem", KeyFile: "k.pem"}
		}
		if got := adminURL(c); got != tt.want {
			t.Errorf("adminURL(listen %s, admin %q, tls %v) = %s, want %s", tt.listen, tt.admin, tt.tls, got, tt.want)
		}
	}
}
