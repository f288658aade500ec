package config

import (
	"fmt"
	"reflect"

	"github.com/portcullis/portcullis/internal/pipeline"
	"github.com/portcullis/portcullis/internal/stage"
)

// Blocks holds stage blocks by config key ("authn", "waf"), each a pointer
// to its stage's config type (*authn.Config). Which keys exist and what
// type each has comes from the stage registry (internal/stage): the
// decoder, the JSON Schema and docs/config.md are derived from it, so a
// new stage needs no change here. A key that is absent means the block was
// not written.
//
// A struct field of type Blocks must be `yaml:",inline"` and say its
// scope: `blocks:"api"` (inside apis[]) or `blocks:"global"` (top level).
type Blocks map[string]any

var blocksType = reflect.TypeFor[Blocks]()

// block is one key of a Blocks scope.
type block struct {
	key string
	typ reflect.Type // the config struct type
}

// blockFields lists the blocks of a scope ("api" or "global") in registry
// order, each key once.
func blockFields(scope string) []block {
	want := pipeline.ScopeAPI
	if scope == "global" {
		want = pipeline.ScopeGlobal
	}
	var out []block
	seen := map[string]bool{}
	for _, m := range stage.Registry {
		if m.ConfigKey() == "" || m.ConfigScope()&want == 0 || seen[m.ConfigKey()] {
			continue
		}
		seen[m.ConfigKey()] = true
		out = append(out, block{key: m.ConfigKey(), typ: m.ConfigType()})
	}
	return out
}

// Set stores block (a pointer to a stage's config type, such as
// &authn.Config{...}) under its registry key, found from its type, and
// returns b (allocated when nil). It panics when no stage has a block of
// that type: that is a programming error, caught by any test that runs it.
func (b *Blocks) Set(block any) Blocks {
	t := reflect.TypeOf(block)
	if t == nil || t.Kind() != reflect.Pointer {
		panic(fmt.Sprintf("config: Blocks.Set(%T): want a pointer to a stage config type", block))
	}
	for _, m := range stage.Registry {
		if m.ConfigType() == t.Elem() {
			if *b == nil {
				*b = Blocks{}
			}
			(*b)[m.ConfigKey()] = block
			return *b
		}
	}
	panic(fmt.Sprintf("config: no stage has a config block of type %s", t.Elem()))
}

// BlockOf returns the block of type *C in b, or nil when it is absent.
func BlockOf[C any](b Blocks) *C {
	for _, v := range b {
		if c, ok := v.(*C); ok {
			return c
		}
	}
	return nil
}
