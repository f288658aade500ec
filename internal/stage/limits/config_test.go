package limits

import (
	"slices"
	"strings"
	"testing"
)

func TestMerge(t *testing.T) {
	tests := []struct {
		name   string
		global Config
		api    *Config
		want   Config
	}{
		{"all defaults", Config{}, nil, Defaults()},
		{"empty api block", Config{}, &Config{}, Defaults()},
		{"global overrides default", Config{MaxBodyBytes: 2 << 20, MaxJSONDepth: 8}, nil,
			Config{MaxHeaderBytes: 32 << 10, MaxHeaderValueBytes: 8 << 10, MaxURLLength: 8192, MaxQueryParams: 100, MaxBodyBytes: 2 << 20, MaxJSONDepth: 8, MaxJSONElements: 10000}},
		{"api overrides global", Config{MaxBodyBytes: 2 << 20, MaxURLLength: 4096}, &Config{MaxBodyBytes: 10 << 20},
			Config{MaxHeaderBytes: 32 << 10, MaxHeaderValueBytes: 8 << 10, MaxURLLength: 4096, MaxQueryParams: 100, MaxBodyBytes: 10 << 20, MaxJSONDepth: 32, MaxJSONElements: 10000}},
		{"negative kept from global", Config{MaxJSONDepth: -1}, nil,
			Config{MaxHeaderBytes: 32 << 10, MaxHeaderValueBytes: 8 << 10, MaxURLLength: 8192, MaxQueryParams: 100, MaxBodyBytes: 1 << 20, MaxJSONDepth: -1, MaxJSONElements: 10000}},
		{"api switches off", Config{}, &Config{MaxBodyBytes: -1, MaxQueryParams: -1},
			Config{MaxHeaderBytes: 32 << 10, MaxHeaderValueBytes: 8 << 10, MaxURLLength: 8192, MaxQueryParams: -1, MaxBodyBytes: -1, MaxJSONDepth: 32, MaxJSONElements: 10000}},
		{"api switches back on", Config{MaxJSONDepth: -1}, &Config{MaxJSONDepth: 5},
			Config{MaxHeaderBytes: 32 << 10, MaxHeaderValueBytes: 8 << 10, MaxURLLength: 8192, MaxQueryParams: 100, MaxBodyBytes: 1 << 20, MaxJSONDepth: 5, MaxJSONElements: 10000}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Defaults()
			want := tc.want
			want.DuplicateKeys, want.UnderscoreHeaders = d.DuplicateKeys, d.UnderscoreHeaders
			want.MethodOverride, want.URLOverride = d.MethodOverride, d.URLOverride
			if got := Merge(tc.global, tc.api); got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		paths []string
	}{
		{"zero", Config{}, nil},
		{"defaults", Defaults(), nil},
		{"off", Config{MaxHeaderBytes: -1, MaxURLLength: -1, MaxQueryParams: -1, MaxBodyBytes: -1, MaxJSONDepth: -1, MaxJSONElements: -1}, nil},
		{"at bounds", Config{MaxHeaderBytes: 16 << 20, MaxURLLength: 1 << 20, MaxQueryParams: 100000, MaxBodyBytes: 1 << 30, MaxJSONDepth: 10000, MaxJSONElements: 100000000}, nil},
		{"depth nonsense", Config{MaxJSONDepth: 10001}, []string{"max_json_depth"}},
		{"everything too big", Config{MaxHeaderBytes: 1 << 30, MaxURLLength: 1 << 21, MaxQueryParams: 1 << 20, MaxBodyBytes: 1 << 31, MaxJSONDepth: 1 << 20, MaxJSONElements: 1 << 30},
			[]string{"max_header_bytes", "max_url_length", "max_query_params", "max_body_bytes", "max_json_depth", "max_json_elements"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, e := range tc.cfg.Validate() {
				got = append(got, e.Path)
			}
			if !slices.Equal(got, tc.paths) {
				t.Errorf("got %v, want %v", got, tc.paths)
			}
		})
	}
}

func TestNewInvalid(t *testing.T) {
	_, err := New(Config{MaxJSONDepth: 20000}, &Config{MaxURLLength: 1 << 30})
	if err == nil {
		t.Fatal("got nil error, want one")
	}
	for _, want := range []string{"building limits", "global.max_json_depth", "api.max_url_length"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %q, want it to contain %q", err, want)
		}
	}
}

func TestBodyLimit(t *testing.T) {
	tests := []struct {
		name string
		api  *Config
		want int64
	}{
		{"default", nil, 1 << 20},
		{"set", &Config{MaxBodyBytes: 5000}, 5000},
		{"off", &Config{MaxBodyBytes: -1}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(Config{}, tc.api)
			if err != nil {
				t.Fatal(err)
			}
			if got := l.BodyLimit(); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}
