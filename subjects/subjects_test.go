package subjects_test

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cis490/cis490/subjects"
)

// Identifiers shared by the tests.
var (
	commit40  = strings.Repeat("0123456789abcdef", 3)[:40]
	digest64  = strings.Repeat("0123456789abcdef", 4)
	designEp  = "2026-11-20T14-03-11_lab1_0042" // the example in design.md
	host32    = strings.Repeat("a", 32)
	host33    = strings.Repeat("a", 33)
	episode12 = strings.Repeat("E", 128)
	episode13 = strings.Repeat("E", 129)

	// goodHosts and goodEpisodes feed the round-trip and name-shape tests.
	goodHosts    = []string{"a", "0", "lab1", "lab-1", "a-b-c", "9lab", host32}
	goodEpisodes = []string{"a", "Z", "0", designEp, "Ep_1-A", "x_", "x-", episode12}
)

func TestValidateHost(t *testing.T) {
	tests := []struct {
		name string
		host string
		ok   bool
	}{
		{"one letter", "a", true},
		{"one digit", "0", true},
		{"plain", "lab1", true},
		{"inner dash", "lab-1", true},
		{"starts with digit", "1lab", true},
		{"double dash inside", "a--b", true},
		{"32 chars", host32, true},
		{"33 chars", host33, false},
		{"empty", "", false},
		{"leading dash", "-lab", false},
		{"trailing dash", "lab-", false},
		{"only dash", "-", false},
		{"upper case", "Lab1", false},
		{"all upper case", "LAB", false},
		{"dot", "lab.1", false},
		{"slash", "lab/1", false},
		{"star", "*", false},
		{"star inside", "lab*", false},
		{"gt", ">", false},
		{"space", "lab 1", false},
		{"underscore", "lab_1", false},
		{"unicode", "läb", false},
		{"trailing newline", "lab1\n", false},
		{"leading space", " lab1", false},
		{"nul", "lab\x00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := subjects.ValidateHost(tt.host)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateHost(%q) = %v, want ok=%v", tt.host, err, tt.ok)
			}
			if err != nil && !errors.Is(err, subjects.ErrBadHost) {
				t.Errorf("ValidateHost(%q) = %v, want errors.Is ErrBadHost", tt.host, err)
			}
		})
	}
}

func TestValidateEpisode(t *testing.T) {
	tests := []struct {
		name string
		id   string
		ok   bool
	}{
		{"one letter", "a", true},
		{"one digit", "7", true},
		{"design example", designEp, true},
		{"upper case", "EPISODE", true},
		{"mixed", "Ep_1-A", true},
		{"trailing underscore", "x_", true},
		{"trailing dash", "x-", true},
		{"128 chars", episode12, true},
		{"129 chars", episode13, false},
		{"empty", "", false},
		{"leading dash", "-x", false},
		{"leading underscore", "_x", false},
		{"dot", "x.y", false},
		{"leading dot", ".x", false},
		{"dot dot", "..", false},
		{"parent path", "../x", false},
		{"slash", "x/y", false},
		{"star", "x*", false},
		{"gt", "x>", false},
		{"space", "x y", false},
		{"tab", "x\ty", false},
		{"unicode", "épisode", false},
		{"trailing newline", "x\n", false},
		{"nul", "x\x00", false},
		{"equals", "x=y", false},
		{"colon", "2026-11-20T14:03:11", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := subjects.ValidateEpisode(tt.id)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateEpisode(%q) = %v, want ok=%v", tt.id, err, tt.ok)
			}
			if err != nil && !errors.Is(err, subjects.ErrBadEpisode) {
				t.Errorf("ValidateEpisode(%q) = %v, want errors.Is ErrBadEpisode", tt.id, err)
			}
		})
	}
}

func TestValidateCommit(t *testing.T) {
	tests := []struct {
		name   string
		commit string
		ok     bool
	}{
		{"40 lowercase hex", commit40, true},
		{"all zero", strings.Repeat("0", 40), true},
		{"all f", strings.Repeat("f", 40), true},
		{"empty", "", false},
		{"39 chars", commit40[:39], false},
		{"41 chars", commit40 + "0", false},
		{"short sha", commit40[:7], false},
		{"upper case", strings.ToUpper(commit40), false},
		{"one upper", "A" + commit40[1:], false},
		{"non-hex", "g" + commit40[1:], false},
		{"trailing newline", commit40 + "\n", false},
		{"leading space", " " + commit40[1:], false},
		{"sha256", digest64, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := subjects.ValidCommit(tt.commit); got != tt.ok {
				t.Errorf("ValidCommit(%q) = %v, want %v", tt.commit, got, tt.ok)
			}
			err := subjects.ValidateCommit(tt.commit)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateCommit(%q) = %v, want ok=%v", tt.commit, err, tt.ok)
			}
			if err != nil {
				if !errors.Is(err, subjects.ErrBadCommit) {
					t.Errorf("ValidateCommit(%q) = %v, want errors.Is ErrBadCommit", tt.commit, err)
				}
				if !strings.Contains(err.Error(), strconv.Quote(tt.commit)) {
					t.Errorf("ValidateCommit(%q) = %q, want the commit in the message", tt.commit, err)
				}
			}
		})
	}
}

func TestValidateDigest(t *testing.T) {
	tests := []struct {
		name   string
		digest string
		ok     bool
	}{
		{"64 lowercase hex", digest64, true},
		{"all zero", strings.Repeat("0", 64), true},
		{"empty", "", false},
		{"63 chars", digest64[:63], false},
		{"65 chars", digest64 + "0", false},
		{"commit length", commit40, false},
		{"upper case", strings.ToUpper(digest64), false},
		{"non-hex", "z" + digest64[1:], false},
		{"trailing newline", digest64 + "\n", false},
		{"slash", digest64[:32] + "/" + digest64[33:], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := subjects.ValidateDigest(tt.digest)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateDigest(%q) = %v, want ok=%v", tt.digest, err, tt.ok)
			}
			if err != nil && !errors.Is(err, subjects.ErrBadDigest) {
				t.Errorf("ValidateDigest(%q) = %v, want errors.Is ErrBadDigest", tt.digest, err)
			}
		})
	}
}

func TestParseReason(t *testing.T) {
	tests := []struct {
		in   string
		want subjects.Reason
		ok   bool
	}{
		{"accepted", subjects.Accepted, true},
		{"unstamped", subjects.Unstamped, true},
		{"out-of-window", subjects.OutOfWindow, true},
		{"conflict", subjects.Conflict, true},
		{"malformed", subjects.Malformed, true},
		{"corrupt", subjects.Corrupt, true},
		{"", "", false},
		{"Accepted", "", false},
		{"ACCEPTED", "", false},
		{"accept", "", false},
		{" accepted", "", false},
		{"accepted ", "", false},
		{"out_of_window", "", false},
		{"outofwindow", "", false},
		{"corrupt.x", "", false},
		{"*", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := subjects.ParseReason(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("ParseReason(%q) = %q, %v, want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
			if err != nil {
				if !errors.Is(err, subjects.ErrBadReason) {
					t.Errorf("ParseReason(%q) = %v, want errors.Is ErrBadReason", tt.in, err)
				}
				if !strings.Contains(err.Error(), strconv.Quote(tt.in)) {
					t.Errorf("ParseReason(%q) = %q, want the input in the message", tt.in, err)
				}
			}
		})
	}
}

func TestReasonValidRejected(t *testing.T) {
	tests := []struct {
		r               subjects.Reason
		valid, rejected bool
	}{
		{subjects.Accepted, true, false},
		{subjects.Unstamped, true, true},
		{subjects.OutOfWindow, true, true},
		{subjects.Conflict, true, true},
		{subjects.Malformed, true, true},
		{subjects.Corrupt, true, true},
		{"", false, false},
		{"Accepted", false, false},
		{"rejected", false, false},
		{"corrupt ", false, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.r), func(t *testing.T) {
			if got := tt.r.Valid(); got != tt.valid {
				t.Errorf("Reason(%q).Valid() = %v, want %v", tt.r, got, tt.valid)
			}
			if got := tt.r.Rejected(); got != tt.rejected {
				t.Errorf("Reason(%q).Rejected() = %v, want %v", tt.r, got, tt.rejected)
			}
		})
	}
}

// TestReasonsList checks that Reasons holds each verdict of design.md exactly
// once, Accepted first.
func TestReasonsList(t *testing.T) {
	want := map[subjects.Reason]bool{
		subjects.Accepted: true, subjects.Unstamped: true, subjects.OutOfWindow: true,
		subjects.Conflict: true, subjects.Malformed: true, subjects.Corrupt: true,
	}
	if len(subjects.Reasons) != len(want) {
		t.Fatalf("len(Reasons) = %d, want %d", len(subjects.Reasons), len(want))
	}
	if subjects.Reasons[0] != subjects.Accepted {
		t.Errorf("Reasons[0] = %q, want %q", subjects.Reasons[0], subjects.Accepted)
	}
	seen := map[subjects.Reason]bool{}
	for _, r := range subjects.Reasons {
		if !want[r] || seen[r] {
			t.Errorf("Reasons holds %q unexpectedly or twice", r)
		}
		seen[r] = true
	}
}

// TestBadIDErrorNamesIDAndRule checks that the error of a bad id can be
// branched on with errors.Is and tells the operator the id and the rule.
func TestBadIDErrorNamesIDAndRule(t *testing.T) {
	tests := []struct {
		name     string
		validate func(string) error
		id       string
		sentinel error
		rule     string
	}{
		{"host upper", subjects.ValidateHost, "Lab1", subjects.ErrBadHost, subjects.HostRule},
		{"host dot", subjects.ValidateHost, "lab.1", subjects.ErrBadHost, subjects.HostRule},
		{"host empty", subjects.ValidateHost, "", subjects.ErrBadHost, subjects.HostRule},
		{"host too long", subjects.ValidateHost, host33, subjects.ErrBadHost, subjects.HostRule},
		{"episode parent", subjects.ValidateEpisode, "../x", subjects.ErrBadEpisode, subjects.EpisodeRule},
		{"episode space", subjects.ValidateEpisode, "a b", subjects.ErrBadEpisode, subjects.EpisodeRule},
		{"episode empty", subjects.ValidateEpisode, "", subjects.ErrBadEpisode, subjects.EpisodeRule},
		{"episode too long", subjects.ValidateEpisode, episode13, subjects.ErrBadEpisode, subjects.EpisodeRule},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.validate(tt.id)
			if !errors.Is(err, tt.sentinel) {
				t.Fatalf("validate(%q) = %v, want errors.Is %v", tt.id, err, tt.sentinel)
			}
			msg := err.Error()
			if !strings.Contains(msg, strconv.Quote(tt.id)) {
				t.Errorf("validate(%q) = %q, want the quoted id in the message", tt.id, msg)
			}
			if !strings.Contains(msg, tt.rule) {
				t.Errorf("validate(%q) = %q, want the rule %q in the message", tt.id, msg, tt.rule)
			}
		})
	}
}

func TestEpisodeBucketRoundTrip(t *testing.T) {
	for _, host := range goodHosts {
		bucket := subjects.EpisodeBucket(host)
		got, err := subjects.ParseEpisodeBucket(bucket)
		if err != nil || got != host {
			t.Errorf("ParseEpisodeBucket(%q) = %q, %v, want %q, nil", bucket, got, err, host)
		}
	}
	if got, want := subjects.EpisodeBucket("lab-1"), "EPISODES_LAB-1"; got != want {
		t.Errorf("EpisodeBucket(%q) = %q, want %q", "lab-1", got, want)
	}
}

func TestSegmentObjectRoundTrip(t *testing.T) {
	for _, ep := range goodEpisodes {
		name := subjects.SegmentObject(ep, digest64)
		if !strings.HasPrefix(name, subjects.SegmentObjectPrefix(ep)) {
			t.Errorf("SegmentObject(%q, ...) = %q, want prefix %q", ep, name, subjects.SegmentObjectPrefix(ep))
		}
		gotEp, gotDigest, err := subjects.ParseSegmentObject(name)
		if err != nil || gotEp != ep || gotDigest != digest64 {
			t.Errorf("ParseSegmentObject(%q) = %q, %q, %v, want %q, %q, nil", name, gotEp, gotDigest, err, ep, digest64)
		}
	}
}

func TestSubjectRoundTrip(t *testing.T) {
	for _, host := range goodHosts {
		subj := subjects.SubmitSubject(host)
		if got, err := subjects.ParseSubmitSubject(subj); err != nil || got != host {
			t.Errorf("ParseSubmitSubject(%q) = %q, %v, want %q, nil", subj, got, err, host)
		}
		subj = subjects.AcceptedSubject(host)
		if got, err := subjects.ParseAcceptedSubject(subj); err != nil || got != host {
			t.Errorf("ParseAcceptedSubject(%q) = %q, %v, want %q, nil", subj, got, err, host)
		}
		for _, r := range subjects.Reasons {
			if !r.Rejected() {
				continue
			}
			subj := subjects.NackSubject(host, r)
			gotHost, gotReason, err := subjects.ParseNackSubject(subj)
			if err != nil || gotHost != host || gotReason != r {
				t.Errorf("ParseNackSubject(%q) = %q, %q, %v, want %q, %q, nil", subj, gotHost, gotReason, err, host, r)
			}
		}
	}
}

func TestVerdictKeyRoundTrip(t *testing.T) {
	for _, host := range goodHosts {
		for _, ep := range goodEpisodes {
			key := subjects.VerdictKey(host, ep)
			gotHost, gotEp, err := subjects.ParseVerdictKey(key)
			if err != nil || gotHost != host || gotEp != ep {
				t.Errorf("ParseVerdictKey(%q) = %q, %q, %v, want %q, %q, nil", key, gotHost, gotEp, err, host, ep)
			}
		}
	}
}

// requireBadName fails t unless err wraps ErrBadName and names the input.
func requireBadName(t testing.TB, call, in string, err error) {
	t.Helper()
	if !errors.Is(err, subjects.ErrBadName) {
		t.Errorf("%s(%q) error = %v, want errors.Is ErrBadName", call, in, err)
		return
	}
	if !strings.Contains(err.Error(), strconv.Quote(in)) {
		t.Errorf("%s(%q) error = %q, want the input in the message", call, in, err)
	}
}

func TestParseEpisodeBucketRejects(t *testing.T) {
	for _, in := range []string{
		"",
		"EPISODES_",
		"EPISODES_lab1",  // lower-case host
		"EPISODES_Lab1",  // mixed case
		"episodes_LAB1",  // lower-case prefix
		"EPISODES-LAB1",  // wrong separator
		"EPISODE_LAB1",   // wrong prefix
		"LAB1",           // no prefix
		"EPISODES_LAB_1", // '_' not allowed in a host
		"EPISODES_-LAB",  // leading dash
		"EPISODES_LAB.1", // dot
		"EPISODES_" + strings.ToUpper(host33),
		"EPISODES_\u212a",    // Kelvin sign lower-cases to ASCII 'k'
		"EPISODES_LAB1 ",     // trailing space
		"CIS490_SUBMISSIONS", // another resource
	} {
		t.Run(in, func(t *testing.T) {
			host, err := subjects.ParseEpisodeBucket(in)
			if err == nil {
				t.Fatalf("ParseEpisodeBucket(%q) = %q, nil, want error", in, host)
			}
			requireBadName(t, "ParseEpisodeBucket", in, err)
		})
	}
}

func TestParseSegmentObjectRejects(t *testing.T) {
	for _, in := range []string{
		"",
		"ep1",
		"ep1/",
		"/" + digest64,
		"ep1/" + digest64 + "/x",
		"ep1/" + digest64[:63],
		"ep1/" + strings.ToUpper(digest64),
		"../ep1/" + digest64,
		"a/b/" + digest64,
		"ep.1/" + digest64,
		"ep1//" + digest64,
		digest64 + "/ep1",
		episode13 + "/" + digest64,
	} {
		t.Run(in, func(t *testing.T) {
			ep, d, err := subjects.ParseSegmentObject(in)
			if err == nil {
				t.Fatalf("ParseSegmentObject(%q) = %q, %q, nil, want error", in, ep, d)
			}
			requireBadName(t, "ParseSegmentObject", in, err)
		})
	}
}

func TestParseSubmitSubjectRejects(t *testing.T) {
	for _, in := range []string{
		"",
		"cis490.submit",
		"cis490.submit.",
		"cis490.submit.lab1.x",
		"cis490.submit.*",
		"cis490.submit.>",
		"cis490.submit.Lab1",
		"cis490.submit..lab1",
		"cis490.nack.lab1",
		"cis490.accepted.lab1",
		"CIS490.submit.lab1",
		"cis490.submitlab1",
		"x.cis490.submit.lab1",
		"cis490.submit.lab 1",
	} {
		t.Run(in, func(t *testing.T) {
			host, err := subjects.ParseSubmitSubject(in)
			if err == nil {
				t.Fatalf("ParseSubmitSubject(%q) = %q, nil, want error", in, host)
			}
			requireBadName(t, "ParseSubmitSubject", in, err)
		})
	}
}

func TestParseAcceptedSubjectRejects(t *testing.T) {
	for _, in := range []string{
		"",
		"cis490.accepted",
		"cis490.accepted.",
		"cis490.accepted.lab1.x",
		"cis490.accepted.*",
		"cis490.accepted.LAB1",
		"cis490.submit.lab1",
		"cis490.nack.lab1.accepted",
		"cis490.acceptedlab1",
	} {
		t.Run(in, func(t *testing.T) {
			host, err := subjects.ParseAcceptedSubject(in)
			if err == nil {
				t.Fatalf("ParseAcceptedSubject(%q) = %q, nil, want error", in, host)
			}
			requireBadName(t, "ParseAcceptedSubject", in, err)
		})
	}
}

func TestParseNackSubjectRejects(t *testing.T) {
	for _, in := range []string{
		"",
		"cis490.nack",
		"cis490.nack.",
		"cis490.nack.lab1",
		"cis490.nack.lab1.",
		"cis490.nack..corrupt",
		"cis490.nack.lab1.accepted", // accepted is not a rejection
		"cis490.nack.lab1.corrupt.x",
		"cis490.nack.lab1.Corrupt",
		"cis490.nack.lab1.*",
		"cis490.nack.lab1.>",
		"cis490.nack.*.corrupt",
		"cis490.nack.LAB1.corrupt",
		"cis490.nack.lab_1.corrupt",
		"cis490.nack.lab1.bogus",
		"cis490.submit.lab1",
		"cis490.nacklab1.corrupt",
	} {
		t.Run(in, func(t *testing.T) {
			host, r, err := subjects.ParseNackSubject(in)
			if err == nil {
				t.Fatalf("ParseNackSubject(%q) = %q, %q, nil, want error", in, host, r)
			}
			requireBadName(t, "ParseNackSubject", in, err)
		})
	}
}

func TestParseVerdictKeyRejects(t *testing.T) {
	for _, in := range []string{
		"",
		"lab1",
		"lab1.",
		".ep1",
		"lab1.ep1.x",
		"lab1..ep1",
		"Lab1.ep1",
		"lab1.-ep1",
		"lab1.ep1/x",
		"lab1.>",
		"lab1.*",
		"*.ep1",
		host33 + ".ep1",
		"lab1." + episode13,
	} {
		t.Run(in, func(t *testing.T) {
			host, ep, err := subjects.ParseVerdictKey(in)
			if err == nil {
				t.Fatalf("ParseVerdictKey(%q) = %q, %q, nil, want error", in, host, ep)
			}
			requireBadName(t, "ParseVerdictKey", in, err)
		})
	}
}

// Server-side name rules (nats.go jetstream: validBucketRe, validKeyRe; stream
// and consumer names hold no whitespace, '.', '*', '>', path separators).
var (
	bucketNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	kvKeyRE      = regexp.MustCompile(`^[-/_=.a-zA-Z0-9]+$`)
	streamNameRE = regexp.MustCompile(`^[^\s.*>/\\]+$`)
)

// checkConcreteSubject reports why subj is not a NATS subject a message can
// be published on, or "" if it is one.
func checkConcreteSubject(subj string) string {
	if subj == "" {
		return "empty"
	}
	for tok := range strings.SplitSeq(subj, ".") {
		switch {
		case tok == "":
			return "empty token"
		case tok == "*" || tok == ">" || strings.ContainsAny(tok, "*>"):
			return "wildcard"
		case strings.ContainsAny(tok, " \t\r\n\x00"):
			return "white space"
		}
	}
	return ""
}

// checkFilter reports why f is not a valid NATS subject filter, or "" if it is.
func checkFilter(f string) string {
	toks := strings.Split(f, ".")
	for i, tok := range toks {
		switch {
		case tok == "":
			return "empty token"
		case tok == ">" && i != len(toks)-1:
			return "'>' not last"
		case tok != "*" && tok != ">" && strings.ContainsAny(tok, "*>"):
			return "wildcard inside a token"
		case strings.ContainsAny(tok, " \t\r\n\x00"):
			return "white space"
		}
	}
	return ""
}

func TestBuiltNamesAreValid(t *testing.T) {
	for _, host := range goodHosts {
		concrete := []string{subjects.SubmitSubject(host), subjects.AcceptedSubject(host)}
		for _, r := range subjects.Reasons {
			if r.Rejected() {
				concrete = append(concrete, subjects.NackSubject(host, r))
			}
		}
		for _, s := range concrete {
			if why := checkConcreteSubject(s); why != "" {
				t.Errorf("subject %q is not a concrete NATS subject: %s", s, why)
			}
			if !strings.HasPrefix(s, subjects.Prefix+".") {
				t.Errorf("subject %q does not start with %s.", s, subjects.Prefix)
			}
		}
		for _, f := range []string{subjects.NackHostFilter(host), subjects.VerdictHostFilter(host)} {
			if why := checkFilter(f); why != "" {
				t.Errorf("filter %q is not a NATS subject filter: %s", f, why)
			}
		}
		if b := subjects.EpisodeBucket(host); !bucketNameRE.MatchString(b) {
			t.Errorf("EpisodeBucket(%q) = %q, want only [a-zA-Z0-9_-]", host, b)
		}
		for _, ep := range goodEpisodes {
			if k := subjects.VerdictKey(host, ep); !kvKeyRE.MatchString(k) || strings.HasPrefix(k, ".") || strings.HasSuffix(k, ".") {
				t.Errorf("VerdictKey(%q, %q) = %q, want a valid KV key", host, ep, k)
			}
			if why := checkConcreteSubject(subjects.VerdictKey(host, ep)); why != "" {
				t.Errorf("VerdictKey(%q, %q) is not a subject suffix: %s", host, ep, why)
			}
		}
	}
	if k := subjects.WindowKey(commit40); !kvKeyRE.MatchString(k) {
		t.Errorf("WindowKey(%q) = %q, want a valid KV key", commit40, k)
	}
	for _, f := range []string{subjects.SubmitAll, subjects.NackAll, subjects.AcceptedAll} {
		if why := checkFilter(f); why != "" {
			t.Errorf("filter %q is not a NATS subject filter: %s", f, why)
		}
	}
	for _, b := range []string{subjects.VerdictsBucket, subjects.WindowBucket} {
		if !bucketNameRE.MatchString(b) {
			t.Errorf("bucket %q: want only [a-zA-Z0-9_-]", b)
		}
	}
	for _, s := range []string{subjects.SubmissionsStream, subjects.QuarantineStream, subjects.AcceptedStream, subjects.ReceiverConsumer} {
		if !streamNameRE.MatchString(s) {
			t.Errorf("stream or consumer name %q holds a character NATS forbids", s)
		}
	}
}

// subjectMatches reports whether the NATS filter matches subj: '*' matches
// exactly one token, '>' one or more trailing tokens.
func subjectMatches(filter, subj string) bool {
	ft := strings.Split(filter, ".")
	st := strings.Split(subj, ".")
	for i, f := range ft {
		if f == ">" {
			return i == len(ft)-1 && len(st) > i
		}
		if i >= len(st) || (f != "*" && f != st[i]) {
			return false
		}
	}
	return len(st) == len(ft)
}

func TestSubjectMatcher(t *testing.T) {
	tests := []struct {
		filter, subj string
		want         bool
	}{
		{"a.b", "a.b", true},
		{"a.b", "a.c", false},
		{"a.*", "a.b", true},
		{"a.*", "a", false},
		{"a.*", "a.b.c", false},
		{"a.>", "a.b", true},
		{"a.>", "a.b.c", true},
		{"a.>", "a", false},
		{"*.>", "a.b", true},
		{"a.b", "a.b.c", false},
	}
	for _, tt := range tests {
		if got := subjectMatches(tt.filter, tt.subj); got != tt.want {
			t.Errorf("subjectMatches(%q, %q) = %v, want %v", tt.filter, tt.subj, got, tt.want)
		}
	}
}

func TestFiltersMatchBuiltSubjects(t *testing.T) {
	for _, host := range goodHosts {
		other := host + "x"
		if len(other) > subjects.MaxHostLen {
			other = "z" + host[1:]
		}
		mustMatch := func(filter, subj string, want bool) {
			t.Helper()
			if got := subjectMatches(filter, subj); got != want {
				t.Errorf("filter %q matches %q = %v, want %v", filter, subj, got, want)
			}
		}
		mustMatch(subjects.SubmitAll, subjects.SubmitSubject(host), true)
		mustMatch(subjects.AcceptedAll, subjects.AcceptedSubject(host), true)
		mustMatch(subjects.SubmitAll, subjects.AcceptedSubject(host), false)
		mustMatch(subjects.AcceptedAll, subjects.SubmitSubject(host), false)
		for _, r := range subjects.Reasons {
			if !r.Rejected() {
				continue
			}
			nack := subjects.NackSubject(host, r)
			mustMatch(subjects.NackAll, nack, true)
			mustMatch(subjects.NackHostFilter(host), nack, true)
			mustMatch(subjects.NackHostFilter(other), nack, false)
			mustMatch(subjects.SubmitAll, nack, false)
			mustMatch(subjects.AcceptedAll, nack, false)
		}
		mustMatch(subjects.NackAll, subjects.SubmitSubject(host), false)
		for _, ep := range goodEpisodes {
			key := subjects.VerdictKey(host, ep)
			mustMatch(subjects.VerdictHostFilter(host), key, true)
			mustMatch(subjects.VerdictHostFilter(other), key, false)
			mustMatch(subjects.VerdictSubjects(host), "$KV."+subjects.VerdictsBucket+"."+key, true)
			mustMatch(subjects.VerdictSubjects(other), "$KV."+subjects.VerdictsBucket+"."+key, false)
		}
		if c := subjects.NackReaderConsumer(host); !bucketNameRE.MatchString(c) || c == subjects.NackReaderConsumer(other) {
			t.Errorf("NackReaderConsumer(%q) = %q, want a consumer name of [a-zA-Z0-9_-] of its own", host, c)
		}
	}
}

func TestMsgID(t *testing.T) {
	a := subjects.MsgID("lab1", designEp, digest64, 1)
	b := subjects.MsgID("lab1", designEp, digest64, 2)
	if a == b {
		t.Errorf("MsgID(attempt 1) = MsgID(attempt 2) = %q, want distinct", a)
	}
	for _, id := range []string{a, b} {
		if strings.ContainsAny(id, " \t\r\n") || !strings.Contains(id, designEp) || !strings.Contains(id, digest64) {
			t.Errorf("MsgID = %q, want no white space and the episode and digest in it", id)
		}
	}
	if c := subjects.MsgID("lab10", designEp, digest64, 1); c == a {
		t.Errorf("MsgID of two hosts = %q, want distinct", c)
	}
}

func TestObjectChunkSubject(t *testing.T) {
	b := subjects.EpisodeBucket("lab1")
	subj := subjects.ObjectChunkSubject(b, "AbC123")
	if subj != "$O.EPISODES_LAB1.C.AbC123" {
		t.Fatalf("subjects.ObjectChunkSubject = %q", subj)
	}
	if n, err := subjects.ParseObjectChunkSubject(b, subj); err != nil || n != "AbC123" {
		t.Fatalf("subjects.ParseObjectChunkSubject(%q) = %q, %v", subj, n, err)
	}
	for _, bad := range []string{"$O.EPISODES_LAB1.M.x", "$O.EPISODES_LAB2.C.x", "$O.EPISODES_LAB1.C.", "$O.EPISODES_LAB1.C.a.b"} {
		if _, err := subjects.ParseObjectChunkSubject(b, bad); !errors.Is(err, subjects.ErrBadName) {
			t.Errorf("subjects.ParseObjectChunkSubject(%q) = %v, want subjects.ErrBadName", bad, err)
		}
	}
	if subjects.ObjectStream(b) != "OBJ_EPISODES_LAB1" || subjects.ObjectChunksAll(b) != "$O.EPISODES_LAB1.C.>" || subjects.ObjectMetaAll(b) != "$O.EPISODES_LAB1.M.>" {
		t.Fatal("object stream names drifted from the object store's layout")
	}
}
