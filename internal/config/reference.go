package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Reference returns the config reference in Markdown (docs/config.md):
// every block and field with its type, default and meaning, taken from the
// same descriptions as Schema.
func Reference() []byte {
	return reference(descriptions)
}

const referenceIntro = `Portcullis reads one YAML file. ` + "`portcullis check FILE`" + ` validates it without
starting anything. This page lists every key; it is generated from the Go doc comments of the
config types, so it cannot drift from the code.

## Reading rules

- **Strict.** An unknown key or a value of the wrong type is an error. Every problem in the file is
  reported at once, each as ` + "`FILE:LINE:COLUMN: message`" + `, and the gateway does not start (or, on a
  reload, keeps running the previous config).
- **Environment variables.** ` + "`${NAME}`" + ` inside any value is replaced by the variable's value;
  ` + "`${NAME:-default}`" + ` uses ` + "`default`" + ` when NAME is unset or empty. An unset variable without a
  default is an error. ` + "`$$`" + ` writes a literal ` + "`$`" + `; any other ` + "`$`" + ` is kept as written. A
  value that is only a reference (` + "`queue_size: ${QUEUE}`" + `) is converted to the field's type.
- **Secrets from files.** ` + "`admin.token`" + ` (and secrets of stages that say so) may be
  ` + "`file:PATH`" + `: the content of that file, trailing newlines trimmed. This composes with variables:
  ` + "`token: ${ADMIN_TOKEN:-file:/run/secrets/admin}`" + `.
- **Relative paths** (certificates, keys, CA bundles, OpenAPI files, log and event files, ` + "`file:`" + `
  secrets) are relative to the config file's directory, not to the working directory.
- **Durations** are strings with a unit: ` + "`250ms`, `5s`, `1m30s`, `8760h`" + `; ` + "`0`" + ` may be written
  bare. **Sizes** are a number of bytes or a string with a unit: ` + "`65536`, `64KiB`, `1MiB`, `1MB`" + `
  (KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024).
- **Zero means default.** A field left out (or set to its zero value) takes the default shown below.
- **Editor support.** A JSON Schema (draft 2020-12) of this file is generated from the same types;
  point your editor's YAML language server at it for completion and unknown-key warnings.
`

type refSection struct {
	t     reflect.Type
	paths []string
}

func reference(desc map[string]string) []byte {
	defaults := defaultValues()
	var order []reflect.Type
	sections := map[reflect.Type]*refSection{}
	var visit func(t reflect.Type, path string)
	visit = func(t reflect.Type, path string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Slice, reflect.Map:
			suffix := "[]"
			if t.Kind() == reflect.Map {
				suffix = ".*"
			}
			visit(t.Elem(), path+suffix)
			return
		case reflect.Struct:
		default:
			return
		}
		if t == durationType {
			return
		}
		s, ok := sections[t]
		if !ok {
			s = &refSection{t: t}
			sections[t] = s
			order = append(order, t)
		}
		s.paths = append(s.paths, path)
		if ok {
			return
		}
		for _, f := range fieldsOf(t) {
			visit(f.typ, strings.TrimPrefix(path+"."+f.name, "."))
		}
	}
	visit(reflect.TypeFor[Config](), "")

	var b strings.Builder
	b.WriteString("# Configuration reference\n\n")
	b.WriteString("<!-- Generated from internal/config by `go test ./internal/config -run TestGenerated -update`. Do not edit by hand. -->\n\n")
	b.WriteString(referenceIntro)
	b.WriteString("\n## Blocks\n\n")
	for _, t := range order {
		fmt.Fprintf(&b, "- [%s](#%s): `%s`\n", sectionTitle(t), anchor(t), strings.Join(displayPaths(sections[t].paths), "`, `"))
	}
	for _, t := range order {
		s := sections[t]
		fmt.Fprintf(&b, "\n## %s\n\n", sectionTitle(t))
		fmt.Fprintf(&b, "Key: `%s`\n\n", strings.Join(displayPaths(s.paths), "`, `"))
		if d := desc[typeKey(t)]; d != "" {
			b.WriteString(d)
			b.WriteString("\n\n")
		}
		b.WriteString("| Key | Type | Default | Description |\n")
		b.WriteString("| --- | --- | --- | --- |\n")
		for _, f := range fieldsOf(t) {
			key := f.descKey(t)
			def := ""
			if v, ok := defaults[key]; ok {
				def = "`" + yamlInline(v) + "`"
			}
			name := "`" + f.name + "`"
			if !f.optional {
				name += " (required)"
			}
			d := desc[key]
			if f.block != "" {
				d = firstSentence(d)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", name, typeName(f.typ), def, cell(d))
		}
	}
	return []byte(b.String())
}

// firstSentence is a block type's doc cut to its first sentence, for the
// row that links to the block's own section.
func firstSentence(s string) string {
	s, _, _ = strings.Cut(s, "\n\n")
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

func displayPaths(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		if p == "" {
			p = "(top level)"
		}
		out[i] = p
	}
	return out
}

// sectionTitle names a block: the Go type name for this package's types,
// the package name for a stage's Config.
func sectionTitle(t reflect.Type) string {
	if t.PkgPath() != ownPkg && t.Name() == "Config" {
		pkg := t.String()
		return pkg[:strings.IndexByte(pkg, '.')]
	}
	return t.Name()
}

func anchor(t reflect.Type) string { return strings.ToLower(sectionTitle(t)) }

func typeName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration"
	case t == bytesType:
		return "size"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.Struct:
		return fmt.Sprintf("[%s](#%s)", sectionTitle(t), anchor(t))
	case reflect.Slice:
		return "list of " + typeName(t.Elem())
	case reflect.Map:
		return "map of " + typeName(t.Elem())
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Float32, reflect.Float64:
		return "number"
	}
	if isNumberKind(t.Kind()) {
		return "integer"
	}
	return t.String()
}

// yamlInline writes a default the way it would be written in YAML flow
// style.
func yamlInline(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = yamlInline(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + yamlInline(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// cell makes a description fit in a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n\n", "<br><br>")
}
