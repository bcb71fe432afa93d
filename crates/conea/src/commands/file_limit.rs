//! The open-file limit of `conea serve`: every client connection is a descriptor, so the soft
//! `RLIMIT_NOFILE` is raised to the hard limit at start (no privilege needed), and the
//! connection cap is derived from what is in effect (`conea_server::connections`).

/// Raises the soft open-file limit to the hard one; returns the soft limit in effect, or
/// `None` where it cannot be read.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn raise() -> Option<u64> {
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only into `current`, a value we own.
    #[allow(unsafe_code)]
    let read = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut current) };
    if read != 0 {
        return None;
    }
    // RLIM_INFINITY as the hard limit cannot be the soft one (the kernel caps it at
    // nr_open): keep the soft limit then.
    if current.rlim_cur < current.rlim_max && current.rlim_max != libc::RLIM_INFINITY {
        let raised = libc::rlimit {
            rlim_cur: current.rlim_max,
            rlim_max: current.rlim_max,
        };
        // SAFETY: setrlimit only reads `raised`; raising the soft limit up to the hard one is
        // allowed to any process.
        #[allow(unsafe_code)]
        let set = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) };
        if set == 0 {
            return Some(raised.rlim_cur);
        }
        tracing::warn!(
            soft = current.rlim_cur,
            hard = current.rlim_max,
            "could not raise the open-file limit"
        );
    }
    Some(current.rlim_cur)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn raise() -> Option<u64> {
    None
}
