// Package journald writes log/slog records to the systemd journal as
// structured fields, over the journal's native protocol (go-systemd's
// journal.Send to /run/systemd/journal/socket), so that `journalctl -p
// warning` filters by level and `journalctl EPISODE=<id>` finds an episode's
// lines.
//
// Each record becomes one journal entry with the fields:
//
//   - MESSAGE: the record's message, then its attributes in logfmt exactly as
//     slog's text handler writes them, without time= and level= (the journal
//     shows its own time and colours the priority):
//     `shipped component=publisher host=lab1 episode=ep-0042 attempt=1`.
//     A plain `journalctl -u` or `-o cat` thus still shows every attribute on
//     one line; the fields below are for filtering and `-o json`.
//   - PRIORITY: the level as a syslog priority: debug 7, info 6, warn 4,
//     error 3 (a level between two takes the lower one's).
//   - SYSLOG_IDENTIFIER: cis490.
//   - one field per attribute, those of logger.With included, groups
//     flattened: `episode` is EPISODE, a group `nats` with `url` is NATS_URL.
//     The name is the key upper-cased, with every character but A-Z, 0-9 and _
//     made _, cut to 64 bytes (journald's limit). A name that would start with
//     _ or a digit, or be one of the fields journald gives a meaning (MESSAGE,
//     PRIORITY, SYSLOG_IDENTIFIER, CODE_FILE, ERRNO, OBJECT_*, ...), is
//     prefixed with ATTR_: `priority` is ATTR_PRIORITY, `_id` ATTR__ID. When
//     two attributes give the same name the later one's value is kept (the
//     record's over the logger's); MESSAGE has both.
//
// Values are as slog's text handler renders them, unquoted: a time in
// RFC 3339 with milliseconds, a duration as time.Duration.String, an error
// as its Error(), a group flattened. Any byte may appear in a value: the
// native protocol sends a value with a newline length-prefixed, and an entry
// too large for one datagram goes as a sealed file (go-systemd does both).
// The entry's time is journald's time of receipt.
//
// A record the journal does not take is never lost, and a log call never
// waits for the journal for good. When journal.Send fails, or has not
// returned after Options.SendTimeout, the record is written to stderr as
// slog's text handler's line, with time and level, and the first such
// failure of an outage is announced there by a warning. While a send is
// stuck, later records go straight to stderr. A record whose send was only
// slow may reach the journal later too: it then shows twice, never zero
// times. When stderr is itself the journal's stream (JOURNAL_STREAM names
// it, as systemd sets for StandardError=journal), each such line starts with
// the record's priority as "<N>", which journald reads as the line's
// priority.
//
// IsJournalStream tells whether a writer is the journal's stream, and
// Available whether the journal's socket takes datagrams: cmd/cis490 uses
// the Handler when both hold and --log-format is not given, or when it is
// `journal`. docs/observability.md ("The journal") has the fields and
// filters.
package journald
