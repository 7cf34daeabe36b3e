package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// EnvPrefix starts every environment variable that overrides a key.
const EnvPrefix = "CIS490_"

// natsEnv maps keys of the [nats] table to the environment variables the
// nats CLI and the cis490 global flags read. CIS490_NATS_* wins over them.
var natsEnv = map[string]string{
	"nats.url":      "NATS_URL",
	"nats.creds":    "NATS_CREDS",
	"nats.context":  "NATS_CONTEXT",
	"nats.tls_cert": "NATS_CERT",
	"nats.tls_key":  "NATS_KEY",
	"nats.tls_ca":   "NATS_CA",
}

// EnvName returns the environment variable that overrides the key at the
// dotted TOML path: CIS490_RECEIVE_MAX_EPISODE_BYTES for
// receive.max_episode_bytes.
func EnvName(path string) string {
	return EnvPrefix + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(path))
}

// EnvOverride sets fields of v, a pointer to a struct with toml tags, from
// the environment as read by getenv (os.Getenv outside tests). Every field
// of kind string, bool, integer or float, and every field whose pointer is
// an encoding.TextUnmarshaler (Size, Duration), is overridden by
// EnvName(its path), e.g. CIS490_RECEIVE_CONCURRENCY=4; the [nats] keys are
// also overridden by NATS_URL, NATS_CREDS, NATS_CONTEXT, NATS_CERT, NATS_KEY
// and NATS_CA, below CIS490_NATS_*. An empty variable counts as unset.
//
// A value that does not parse is an error naming the variable and wrapping
// ErrInvalid; v may then be partly overridden.
func EnvOverride(v any, getenv func(string) string) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("override from environment: want a pointer to a struct, got %T", v)
	}
	return envStruct(rv.Elem(), "", getenv)
}

func envStruct(sv reflect.Value, prefix string, getenv func(string) string) error {
	t := sv.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "-" {
			continue
		}
		fv := sv.Field(i)
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			if err := envStruct(fv, prefix, getenv); err != nil {
				return err
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		path := prefix + name
		if f.Type.Kind() == reflect.Struct && !reflect.PointerTo(f.Type).Implements(textUnmarshaler) {
			if err := envStruct(fv, path+".", getenv); err != nil {
				return err
			}
			continue
		}
		for _, env := range []string{natsEnv[path], EnvName(path)} {
			if env == "" {
				continue
			}
			s := getenv(env)
			if s == "" {
				continue
			}
			if err := setField(fv, s); err != nil {
				return invalidf("environment %s=%q: %w", env, s, err)
			}
		}
	}
	return nil
}

// setField parses s into fv. Kinds it cannot set are left alone.
func setField(fv reflect.Value, s string) error {
	if u, ok := fv.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(s))
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return errors.New("want true or false")
		}
		fv.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, fv.Type().Bits())
		if err != nil {
			return fmt.Errorf("want an integer of %d bits", fv.Type().Bits())
		}
		fv.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, fv.Type().Bits())
		if err != nil {
			return fmt.Errorf("want an unsigned integer of %d bits", fv.Type().Bits())
		}
		fv.SetUint(n)
	case reflect.Float32, reflect.Float64:
		x, err := strconv.ParseFloat(s, fv.Type().Bits())
		if err != nil {
			return errors.New("want a number")
		}
		fv.SetFloat(x)
	}
	return nil
}
