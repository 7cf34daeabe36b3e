package subjects_test

import (
	"testing"

	"github.com/cis490/cis490/subjects"
)

// The fuzz targets check two properties of every parser: it never panics, and
// when it accepts a name, building the name again from the parts it returned
// gives back exactly the input. The second property means no two inputs map
// to the same parts, so a name read from the server names exactly one thing.
// Each target also checks that a rejection wraps ErrBadName and that the parts
// of an accepted name pass their validators.

func FuzzParseSubmitSubject(f *testing.F) {
	for _, s := range []string{"cis490.submit.lab1", "cis490.submit.a", "cis490.submit.lab1.x", "cis490.submit.*", "cis490.submit.", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, subj string) {
		host, err := subjects.ParseSubmitSubject(subj)
		if err != nil {
			requireBadName(t, "ParseSubmitSubject", subj, err)
			return
		}
		if err := subjects.ValidateHost(host); err != nil {
			t.Fatalf("ParseSubmitSubject(%q) = %q, an invalid host: %v", subj, host, err)
		}
		if got := subjects.SubmitSubject(host); got != subj {
			t.Fatalf("SubmitSubject(ParseSubmitSubject(%q)) = %q, want the input", subj, got)
		}
	})
}

func FuzzParseAcceptedSubject(f *testing.F) {
	for _, s := range []string{"cis490.accepted.lab1", "cis490.accepted.lab-2", "cis490.accepted.lab1.x", "cis490.accepted.>", "cis490.submit.lab1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, subj string) {
		host, err := subjects.ParseAcceptedSubject(subj)
		if err != nil {
			requireBadName(t, "ParseAcceptedSubject", subj, err)
			return
		}
		if err := subjects.ValidateHost(host); err != nil {
			t.Fatalf("ParseAcceptedSubject(%q) = %q, an invalid host: %v", subj, host, err)
		}
		if got := subjects.AcceptedSubject(host); got != subj {
			t.Fatalf("AcceptedSubject(ParseAcceptedSubject(%q)) = %q, want the input", subj, got)
		}
	})
}

func FuzzParseNackSubject(f *testing.F) {
	for _, r := range subjects.Reasons {
		f.Add(subjects.NackSubject("lab1", r)) // includes the invalid .accepted
	}
	for _, s := range []string{"cis490.nack.lab1.corrupt.x", "cis490.nack.lab1", "cis490.nack.*.corrupt", "cis490.nack..corrupt", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, subj string) {
		host, r, err := subjects.ParseNackSubject(subj)
		if err != nil {
			requireBadName(t, "ParseNackSubject", subj, err)
			return
		}
		if err := subjects.ValidateHost(host); err != nil {
			t.Fatalf("ParseNackSubject(%q) host = %q, invalid: %v", subj, host, err)
		}
		if !r.Rejected() {
			t.Fatalf("ParseNackSubject(%q) reason = %q, not a rejection", subj, r)
		}
		if got := subjects.NackSubject(host, r); got != subj {
			t.Fatalf("NackSubject(ParseNackSubject(%q)) = %q, want the input", subj, got)
		}
	})
}

func FuzzParseVerdictKey(f *testing.F) {
	for _, s := range []string{"lab1." + designEp, "a.b", "lab1.ep.x", "lab1.", ".ep", "lab1.>", "Lab1.ep", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		host, ep, err := subjects.ParseVerdictKey(key)
		if err != nil {
			requireBadName(t, "ParseVerdictKey", key, err)
			return
		}
		if subjects.ValidateHost(host) != nil || subjects.ValidateEpisode(ep) != nil {
			t.Fatalf("ParseVerdictKey(%q) = %q, %q, invalid parts", key, host, ep)
		}
		if got := subjects.VerdictKey(host, ep); got != key {
			t.Fatalf("VerdictKey(ParseVerdictKey(%q)) = %q, want the input", key, got)
		}
		if !kvKeyRE.MatchString(key) {
			t.Fatalf("ParseVerdictKey accepted %q, which is not a valid KV key", key)
		}
	})
}

func FuzzParseSegmentObject(f *testing.F) {
	for _, s := range []string{designEp + "/" + digest64, "a/" + digest64, "a/" + digest64 + "/x", "../a/" + digest64, "a/" + commit40, "a", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		ep, d, err := subjects.ParseSegmentObject(name)
		if err != nil {
			requireBadName(t, "ParseSegmentObject", name, err)
			return
		}
		if subjects.ValidateEpisode(ep) != nil || subjects.ValidateDigest(d) != nil {
			t.Fatalf("ParseSegmentObject(%q) = %q, %q, invalid parts", name, ep, d)
		}
		if got := subjects.SegmentObject(ep, d); got != name {
			t.Fatalf("SegmentObject(ParseSegmentObject(%q)) = %q, want the input", name, got)
		}
	})
}

func FuzzParseEpisodeBucket(f *testing.F) {
	for _, s := range []string{"EPISODES_LAB1", "EPISODES_LAB-1", "EPISODES_lab1", "EPISODES_", "EPISODES_\u212a", "CIS490_VERDICTS", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, bucket string) {
		host, err := subjects.ParseEpisodeBucket(bucket)
		if err != nil {
			requireBadName(t, "ParseEpisodeBucket", bucket, err)
			return
		}
		if err := subjects.ValidateHost(host); err != nil {
			t.Fatalf("ParseEpisodeBucket(%q) = %q, an invalid host: %v", bucket, host, err)
		}
		if got := subjects.EpisodeBucket(host); got != bucket {
			t.Fatalf("EpisodeBucket(ParseEpisodeBucket(%q)) = %q, want the input", bucket, got)
		}
		if !bucketNameRE.MatchString(bucket) {
			t.Fatalf("ParseEpisodeBucket accepted %q, which is not a valid bucket name", bucket)
		}
	})
}
