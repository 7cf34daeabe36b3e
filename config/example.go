package config

import (
	"bufio"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
)

// writeExample writes v, a struct of tables, as commented TOML: header,
// then each table with its comment and each key with its comment and value.
// Every table and key must have a comment in comments, keyed by its dotted
// path, so that an example never shows an unexplained key.
func writeExample(w io.Writer, header string, v any, comments map[string]string) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(header)
	rv := reflect.ValueOf(v)
	t := rv.Type()
	for i := range t.NumField() {
		table := tomlName(t.Field(i))
		if table == "" {
			continue
		}
		tv := rv.Field(i)
		if tv.Kind() != reflect.Struct || reflect.PointerTo(tv.Type()).Implements(textUnmarshaler) {
			return fmt.Errorf("write example: top-level key %q: want only tables", table)
		}
		c, ok := comments[table]
		if !ok {
			return fmt.Errorf("write example: table %q has no comment", table)
		}
		fmt.Fprintf(bw, "\n# %s\n[%s]\n", c, table)
		for j := range tv.NumField() {
			key := tomlName(tv.Type().Field(j))
			if key == "" {
				continue
			}
			path := table + "." + key
			c, ok := comments[path]
			if !ok {
				return fmt.Errorf("write example: key %q has no comment", path)
			}
			line, err := toml.Marshal(map[string]any{key: tv.Field(j).Interface()})
			if err != nil {
				return fmt.Errorf("write example: key %q: %w", path, err)
			}
			fmt.Fprintf(bw, "# %s\n%s", c, line)
		}
	}
	return bw.Flush()
}

// tomlName returns the TOML key of an exported field, or "" for a field
// TOML skips.
func tomlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	switch name {
	case "-":
		return ""
	case "":
		return f.Name
	}
	return name
}
