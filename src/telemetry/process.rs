//! The process's own figures, in the names every Prometheus client
//! library uses (`process_*`), read from `/proc/self` at scrape time.

use super::Scrape;

pub(super) fn measure(scrape: &mut Scrape) {
    #[cfg(target_os = "linux")]
    linux(scrape);
}

#[cfg(target_os = "linux")]
fn linux(scrape: &mut Scrape) {
    // SAFETY: sysconf only reads a system constant.
    let (ticks, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the command name, which is in parentheses and may
        // hold spaces: state is field 3, utime 14, stime 15, starttime 22,
        // rss 24 (man 5 proc).
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<f64>().ok());
        if let (Some(user), Some(system)) = (field(14), field(15)) {
            if ticks > 0 {
                scrape.counter(
                    "process_cpu_seconds",
                    "Total user and system CPU time spent in seconds",
                    Vec::new(),
                    (user + system) / ticks as f64,
                );
            }
        }
        if let Some(rss) = field(24) {
            scrape.gauge(
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                Vec::new(),
                rss * page as f64,
            );
        }
        if let (Some(start), Some(boot)) = (field(22), boot_time()) {
            if ticks > 0 {
                scrape.gauge(
                    "process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds",
                    Vec::new(),
                    boot + start / ticks as f64,
                );
            }
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        scrape.gauge(
            "process_open_fds",
            "Number of open file descriptors",
            Vec::new(),
            fds.count() as f64,
        );
    }
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        scrape.gauge(
            "process_max_fds",
            "Maximum number of open file descriptors",
            Vec::new(),
            limit.rlim_cur as f64,
        );
    }
}

#[cfg(target_os = "linux")]
fn boot_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|t| t.trim().parse().ok())
}
