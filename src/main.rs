//! The `opsbot` binary: parse the command line, hand over, map errors to exit codes.

/// jemalloc rather than glibc's malloc: a run allocates and frees many
/// small JSON and template values on whichever worker thread polls it, and
/// glibc's arenas spent about a third of a run's CPU in malloc, free and
/// their consolidation (the Slack burst in BENCHMARKS.md: 2.3 ms of CPU per
/// run with glibc, 1.7 with jemalloc). mimalloc was as fast but idled
/// 10 MiB larger; jemalloc with the settings below costs about 0.7 MiB.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read at its start (the `MALLOC_CONF` environment
/// variable still overrides them): one arena per core of the 2-core
/// machines opsbot is sized for (the default, four per core, idles larger
/// for no gain here), freed pages given back within a second, and without
/// the lazy "muzzy" stage that would keep them counted in RSS.
#[allow(non_upper_case_globals)]
#[export_name = "malloc_conf"]
pub static malloc_conf: &[u8; 47] = b"narenas:2,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

fn main() -> std::process::ExitCode {
    opsbot::cli::main()
}
