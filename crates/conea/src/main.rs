//! The `conea` binary: parses the command line and runs one command. Errors print one line
//! (`error: …`) on stderr and exit with status 1; no backtraces.

mod cli;
mod commands;
mod context;
mod logging;

use clap::Parser;
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: in the 10-minute soak on SQLite (`bench/soak.sh`),
/// glibc's per-thread arenas took RSS to 72.9 MiB, still +16.5 % over the second half; with
/// mimalloc (and SQLite's small page caches, see conea-store's `db.rs`) it went from
/// 50.5 MiB after one minute to 53.8 MiB at ten (docs/operations.md has the later figures).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// SQLite is C and allocates through glibc's malloc, not the global allocator above. glibc
/// gives every thread that allocates its own arena (up to 8 per core), and sqlx runs each
/// SQLite connection on its own thread: the soak's RSS crept by ~0.4 MiB a minute as those
/// arenas fragmented. Two arenas for the whole process keep it flat (soak: +2.0 % from
/// minute 1 to minute 10, was +9 %). `MALLOC_ARENA_MAX` in the environment still wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(clippy::disallowed_methods)] // MALLOC_ARENA_MAX is glibc's own variable, not a setting
fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a tunable; called before any thread is started.
        #[allow(unsafe_code)]
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

/// No transparent huge pages for this process. mimalloc asks the kernel for huge pages on its
/// arena (`madvise(MADV_HUGEPAGE)`), and a 2 MiB huge page stays resident as a whole while any
/// of its 64 KiB mimalloc pages is in use: after one 200,000-order SQLite import RssAnon was
/// 147 MiB, 74 MiB of it in huge pages, against 85 MiB without them (`bench/sqlite_rss.sh`,
/// docs/performance.md). A server whose memory should follow its live data is better off
/// without them, as PostgreSQL's and Redis's own guides advise for theirs. mimalloc's own
/// `MIMALLOC_ALLOW_THP=1` in the environment keeps them.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(clippy::disallowed_methods)] // MIMALLOC_ALLOW_THP is mimalloc's own variable, not a setting
fn disable_transparent_huge_pages() {
    if std::env::var("MIMALLOC_ALLOW_THP").as_deref() == Ok("1") {
        return;
    }
    // SAFETY: PR_SET_THP_DISABLE only sets a flag on this process's memory descriptor; the
    // kernel checks it on every later fault, so it holds for memory mapped before this call.
    #[allow(unsafe_code)]
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn disable_transparent_huge_pages() {}

fn main() -> ExitCode {
    limit_malloc_arenas();
    disable_transparent_huge_pages();
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal failure: {info}. Please report this.");
    }));
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
