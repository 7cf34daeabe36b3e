// Package doctor checks a cis490 installation and says, for every problem
// it finds, what is wrong and the one command that fixes it.
//
// A check is a function that returns a Row: the check's name, a Status
// (green, yellow, red, or skip when it cannot apply here), a one-line
// Summary, the Fix command for anything not green, and Details for
// machines. LabHost runs the checks of a lab host: its configuration, the
// link to the hub, its bucket, the backlog in its data directory, its local
// quarantine, free disk, the reject records the hub wrote about it, and its
// systemd unit. HubAdmin runs the hub admin's: every resource against the
// configuration hub/resources.go gives it, the receiver consumer's lag, the
// quarantine stream's fill, and each host's bucket, accepts and rejects.
//
// Checks that need the hub are skipped when it cannot be reached, so the
// local rows are always there. Every request to the hub runs under a short
// deadline of its own: a request the server's permissions deny is not
// refused, it goes unanswered, so "permission denied or timeout" is what a
// check reports unless the server named the denied subject.
//
// A Report collects the rows; WriteText prints them as an aligned table
// (coloured on a terminal) and WriteJSON as the stable schema documented in
// docs/doctor.md. The package prints nothing by itself.
package doctor
