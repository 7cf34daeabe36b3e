// Package bench measures cis490 against what a lab would use instead, in
// the same run, on one machine, against one embedded hub:
//
//   - cis490 end to end: the real `cis490 publish --once` and
//     `cis490 receive` processes take each episode directory to an accepted
//     verdict and into shipped/;
//   - the stock ceiling: the same packed bytes through one stock
//     ObjectStore.Put and one Get per episode, each side its own process;
//   - the old HTTP design (package bench/httpold, when its binary is given):
//     pack to an outbox file, PUT with SHA-256, the receiver writes, fsyncs
//     and validates.
//
// Every system runs as processes, so that the peak resident set of each
// side (the kernel's high-water mark, VmHWM) is its own. Each workload runs
// Runs times; the report gives the median of each figure and the ratios
// taken within each run. `make bench` and `cis490 bench` both run it.
package bench
