//! What this process uses of the machine and what it may use (Linux `/proc` and cgroups;
//! `None` elsewhere): resident memory against the container's memory limit, open files
//! against `RLIMIT_NOFILE`, CPU seconds. Read by `/metrics` and the console's Operations
//! page, the operations guide's "memory" and "too many open files" symptoms.

/// VmRSS from /proc/self/status, in bytes.
pub fn rss_bytes() -> Option<u64> {
    rss_in_status(&std::fs::read_to_string("/proc/self/status").ok()?)
}

fn rss_in_status(status: &str) -> Option<u64> {
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// User and system CPU time of this process from /proc/self/stat, in seconds.
pub fn cpu_seconds() -> Option<f64> {
    cpu_seconds_in_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// `utime + stime` of a /proc/PID/stat line. The command name is in parentheses and may
/// hold spaces and `)`, so fields count from the last `)`: the state is field 3, utime 14 and
/// stime 15. /proc reports them in USER_HZ ticks, 100 per second on Linux.
fn cpu_seconds_in_stat(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// Open file descriptors (sockets included).
pub fn open_files() -> Option<u64> {
    std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count() as u64)
}

/// The soft limit on open files (`ulimit -n`), from /proc/self/limits.
pub fn open_files_limit() -> Option<u64> {
    soft_open_files_in_limits(&std::fs::read_to_string("/proc/self/limits").ok()?)
}

fn soft_open_files_in_limits(limits: &str) -> Option<u64> {
    let rest = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?;
    rest.split_whitespace().next()?.parse().ok()
}

/// The container's memory limit: cgroup v2 `memory.max`, else cgroup v1
/// `memory.limit_in_bytes`; `None` without a limit.
pub fn memory_limit_bytes() -> Option<u64> {
    [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok())
    .and_then(|text| memory_limit_in(&text))
}

/// `max` is no limit, and so is cgroup v1's "unlimited" (a page-rounded `i64::MAX`).
fn memory_limit_in(text: &str) -> Option<u64> {
    let n: u64 = text.trim().parse().ok()?;
    (n < 1 << 60).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_seconds_are_utime_plus_stime_counted_after_the_command_name() {
        // A command name with a space and a `)`; utime 250 and stime 125 ticks.
        let stat =
            "4242 (conea (x) y) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 125 0 0 20 0 9 0 100 0 0";
        assert_eq!(cpu_seconds_in_stat(stat), Some(3.75));
        assert_eq!(
            cpu_seconds_in_stat("4242 (conea) S 1"),
            None,
            "a truncated line"
        );
    }

    #[test]
    fn limits_are_read_as_linux_writes_them() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             95724                95724                processes \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(soft_open_files_in_limits(limits), Some(1024));
        assert_eq!(memory_limit_in("536870912\n"), Some(512 << 20));
        assert_eq!(memory_limit_in("max\n"), None, "cgroup v2 without a limit");
        assert_eq!(
            memory_limit_in("9223372036854771712\n"),
            None,
            "cgroup v1 without a limit"
        );
        assert_eq!(
            rss_in_status("Name:\tconea\nVmRSS:\t  2048 kB\n"),
            Some(2 << 20)
        );
    }

    #[test]
    fn this_process_is_read_on_linux() {
        if !cfg!(target_os = "linux") {
            return;
        }
        assert!(rss_bytes().is_some_and(|b| b > 0));
        assert!(
            open_files().is_some_and(|n| n >= 3),
            "stdin, stdout, stderr"
        );
        assert!(open_files_limit().is_some_and(|n| n > 0));
        assert!(cpu_seconds().is_some());
    }
}
