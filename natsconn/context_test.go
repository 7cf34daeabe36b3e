package natsconn

import (
	"errors"
	"io/fs"
	"path/filepath"
	"testing"
)

func TestLoadContextByName(t *testing.T) {
	natsDir, home := useConfigHome(t)
	want := Context{
		Description:     "lab hub",
		URL:             "nats://hub.lab:4222",
		User:            "lab1",
		Password:        "s3cret",
		Creds:           "~/creds/lab1.creds",
		NKey:            "~/lab1.nk",
		Cert:            "~/tls/cert.pem",
		Key:             "~/tls/key.pem",
		CA:              "/etc/ca.pem",
		JetStreamDomain: "hub",
		InboxPrefix:     "_INBOX_lab1",
		TLSFirst:        true,
	}
	file := writeContext(t, filepath.Join(natsDir, "context"), "hub", want)

	got, err := LoadContext("hub")
	if err != nil {
		t.Fatalf("LoadContext(hub): %v", err)
	}
	want.Name, want.Path = "hub", file
	want.Creds = filepath.Join(home, "creds/lab1.creds")
	want.NKey = filepath.Join(home, "lab1.nk")
	want.Cert = filepath.Join(home, "tls/cert.pem")
	want.Key = filepath.Join(home, "tls/key.pem")
	if got != want {
		t.Errorf("LoadContext(hub) =\n%+v\nwant\n%+v", got, want)
	}
}

func TestLoadContextByPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want Context
	}{
		{"testdata/context/minimal.json", Context{URL: "nats://hub.lab:4222"}},
		{"testdata/context/unknown-fields.json", Context{URL: "nats://hub.lab:4222"}},
		{"testdata/context/mtls.json", Context{
			URL: "tls://hub.lab:4222", Cert: "/etc/cis490/lab1-cert.pem",
			Key: "/etc/cis490/lab1-key.pem", CA: "/etc/cis490/ca.pem", TLSFirst: true,
		}},
		{"testdata/context/userpass.json", Context{
			Description: "user and password", URL: "nats://127.0.0.1:4222", User: "lab1", Password: "s3cret",
		}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			t.Parallel()
			got, err := LoadContext(tt.file)
			if err != nil {
				t.Fatalf("LoadContext(%q): %v", tt.file, err)
			}
			tt.want.Name = got.Name
			tt.want.Path = tt.file
			if got != tt.want {
				t.Errorf("LoadContext(%q) =\n%+v\nwant\n%+v", tt.file, got, tt.want)
			}
			if want := filepath.Base(tt.file[:len(tt.file)-len(".json")]); got.Name != want {
				t.Errorf("LoadContext(%q).Name = %q, want %q", tt.file, got.Name, want)
			}
		})
	}
}

// TestLoadContextNatsCLIFile reads a file in the exact shape `nats context
// save` writes, every field present.
func TestLoadContextNatsCLIFile(t *testing.T) {
	_, home := useConfigHome(t)
	got, err := LoadContext("testdata/context/natscli.json")
	if err != nil {
		t.Fatalf("LoadContext: %v", err)
	}
	want := Context{
		Name:            "natscli",
		Path:            "testdata/context/natscli.json",
		Description:     "Lab hub over WireGuard",
		URL:             "tls://hub.lab:4222,tls://hub2.lab:4222",
		Creds:           filepath.Join(home, ".config/cis490/lab1.creds"),
		CA:              filepath.Join(home, ".config/cis490/ca.pem"),
		JetStreamDomain: "hub",
		InboxPrefix:     "_INBOX_lab1",
	}
	if got != want {
		t.Errorf("LoadContext =\n%+v\nwant\n%+v", got, want)
	}
}

func TestLoadContextErrors(t *testing.T) {
	natsDir, _ := useConfigHome(t)
	dir := filepath.Join(natsDir, "context")
	writeFile(t, dir, "bad.json", []byte(`{"url": "nats://x:4222",`))
	writeFile(t, dir, "array.json", []byte(`["nats://x:4222"]`))
	writeFile(t, dir, "empty.json", nil)
	writeFile(t, dir, "wrongtype.json", []byte(`{"url": 4222}`))

	tests := []struct {
		name     string
		fragment string // besides the file path
		notExist bool
	}{
		{"missing", "no such file", true},
		{"bad", "unexpected end of JSON input", false},
		{"array", "want a JSON object", false},
		{"empty", "want a JSON object", false},
		{"wrongtype", "cannot unmarshal number", false},
		{filepath.Join(t.TempDir(), "nope.json"), "no such file", true},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.name), func(t *testing.T) {
			file, err := ContextPath(tt.name)
			if err != nil {
				t.Fatalf("ContextPath(%q): %v", tt.name, err)
			}
			_, err = LoadContext(tt.name)
			wantErr(t, err, true, file, tt.fragment)
			if got := errors.Is(err, fs.ErrNotExist); got != tt.notExist {
				t.Errorf("errors.Is(%q, fs.ErrNotExist) = %v, want %v", err, got, tt.notExist)
			}
		})
	}
}

func TestContextPath(t *testing.T) {
	natsDir, home := useConfigHome(t)
	tests := []struct {
		name, want string
		wantErr    bool
	}{
		{name: "hub", want: filepath.Join(natsDir, "context", "hub.json")},
		{name: "ngs.js", want: filepath.Join(natsDir, "context", "ngs.js.json")},
		{name: "/etc/cis490/hub.json", want: "/etc/cis490/hub.json"},
		{name: "rel/hub", want: "rel/hub"},
		{name: "hub.json", want: "hub.json"},
		{name: "~/ctx/hub.json", want: filepath.Join(home, "ctx/hub.json")},
		{name: "", wantErr: true},
		{name: "a..b", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ContextPath(tt.name)
			if tt.wantErr {
				if !errors.Is(err, ErrConfig) {
					t.Errorf("ContextPath(%q) = %q, %v; want an ErrConfig error", tt.name, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ContextPath(%q) = %q, %v; want %q", tt.name, got, err, tt.want)
			}
		})
	}
}

func TestConfigDirDefault(t *testing.T) {
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", home)
	got, err := ConfigDir()
	if want := filepath.Join(home, ".config", "nats"); err != nil || got != want {
		t.Errorf("ConfigDir() = %q, %v; want %q", got, err, want)
	}
}

func TestSelectedContext(t *testing.T) {
	natsDir, _ := useConfigHome(t)
	ctxDir := filepath.Join(natsDir, "context")
	writeContext(t, ctxDir, "lab", Context{URL: "nats://lab-hub:4222"})
	writeContext(t, ctxDir, "other", Context{URL: "nats://other:4222"})

	// No context.txt: the default URL and no context.
	r, c, err := Options{}.Resolve()
	if err != nil || r.URL != DefaultURL || c != (Context{}) || r.Context != "" {
		t.Fatalf("Resolve() with nothing selected = %+v, %+v, %v; want URL %s and no context", r, c, err, DefaultURL)
	}

	writeFile(t, natsDir, "context.txt", []byte("lab\n"))
	if got, err := SelectedContext(); err != nil || got != "lab" {
		t.Fatalf("SelectedContext() = %q, %v; want lab", got, err)
	}
	tests := []struct {
		name    string
		o       Options
		wantURL string
		wantCtx string
	}{
		{"selected", Options{}, "nats://lab-hub:4222", "lab"},
		{"named beats selected", Options{Context: "other"}, "nats://other:4222", "other"},
		{"url skips selected", Options{URL: "nats://explicit:4222"}, "nats://explicit:4222", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, c, err := tt.o.Resolve()
			if err != nil {
				t.Fatalf("Resolve(%+v): %v", tt.o, err)
			}
			if r.URL != tt.wantURL || r.Context != tt.wantCtx || c.Name != tt.wantCtx {
				t.Errorf("Resolve(%+v) = URL %q, context %q (%q); want %q, %q", tt.o, r.URL, r.Context, c.Name, tt.wantURL, tt.wantCtx)
			}
		})
	}

	writeFile(t, natsDir, "context.txt", []byte("gone"))
	_, _, err = Options{}.Resolve()
	wantErr(t, err, true, filepath.Join(ctxDir, "gone.json"))
}
