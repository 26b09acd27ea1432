//! What the operating system tells us: memory and CPU of the server (and of
//! ourselves) from `/proc`, the server's pid from the port it listens on,
//! the machine's load, and our own file-descriptor limit.

use anyhow::{Context, bail};
use serde::Serialize;
use std::fs;

/// Resident memory of process `pid` (`VmRSS` in `/proc/PID/status`), in KiB.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status_field_kib(&status, "VmRSS:").with_context(|| format!("no VmRSS for pid {pid}"))
}

/// Our own resident memory, in KiB.
pub fn own_rss_kib() -> anyhow::Result<u64> {
    rss_kib(std::process::id())
}

fn status_field_kib(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU time (user + system) process `pid` has used so far, in seconds.
pub fn cpu_secs(pid: u32) -> anyhow::Result<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    let ticks = stat_cpu_ticks(&stat).with_context(|| format!("unreadable /proc/{pid}/stat"))?;
    // SAFETY: sysconf only reads a constant of the running system.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Ok(ticks as f64 / per_sec.max(1) as f64)
}

/// utime + stime from a `/proc/PID/stat` line. The command name (field 2)
/// is in parentheses and may hold spaces, so fields are counted after it.
fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name: state is field 3, utime 14, stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// CPU seconds of several processes at one moment, to difference later.
#[derive(Debug, Clone)]
pub struct CpuMeter {
    pids: Vec<u32>,
    server_secs: f64,
    own_secs: f64,
    at_nanos: u64,
}

/// Cores' worth of CPU used between two readings.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CpuUse {
    /// The server process(es), summed; absent when the pid is unknown.
    pub server_cores: Option<f64>,
    /// This load generator.
    pub bench_cores: f64,
}

impl CpuMeter {
    /// Starts measuring the servers `pids` and this process.
    pub fn start(pids: &[u32]) -> Self {
        CpuMeter {
            pids: pids.to_vec(),
            server_secs: pids.iter().filter_map(|&p| cpu_secs(p).ok()).sum(),
            own_secs: cpu_secs(std::process::id()).unwrap_or(0.0),
            at_nanos: crate::clock::now_nanos(),
        }
    }

    /// CPU used since [`CpuMeter::start`].
    pub fn stop(&self) -> CpuUse {
        let wall = crate::clock::secs_between(self.at_nanos, crate::clock::now_nanos()).max(1e-9);
        let server: f64 = self.pids.iter().filter_map(|&p| cpu_secs(p).ok()).sum();
        let own = cpu_secs(std::process::id()).unwrap_or(0.0);
        CpuUse {
            server_cores: (!self.pids.is_empty()).then(|| (server - self.server_secs) / wall),
            bench_cores: (own - self.own_secs) / wall,
        }
    }
}

/// The pid of the process listening on TCP `port` (any address), found
/// through the socket's inode in `/proc/net/tcp*` and `/proc/*/fd`.
pub fn pid_listening_on(port: u16) -> anyhow::Result<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = fs::read_to_string(table) {
            inodes.extend(listening_inodes(&text, port));
        }
    }
    if inodes.is_empty() {
        bail!("nothing listens on port {port}; is the server running? (or pass --server-pid)");
    }
    let targets: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for entry in fs::read_dir("/proc")?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(link) = fs::read_link(fd.path())
                && targets.iter().any(|t| link.as_os_str() == t.as_str())
            {
                return Ok(pid);
            }
        }
    }
    bail!("could not find the process listening on port {port}; pass --server-pid")
}

/// Inodes of the sockets in LISTEN state (`0A`) on `port` in one
/// `/proc/net/tcp` table.
fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local_port = u16::from_str_radix(f.get(1)?.rsplit(':').next()?, 16).ok()?;
            if local_port != port || *f.get(3)? != "0A" {
                return None;
            }
            f.get(9)?.parse().ok()
        })
        .collect()
}

/// The soft limit on open files of process `pid`, if readable.
pub fn open_files_limit(pid: u32) -> Option<u64> {
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Raises this process's open-file limit to at least `want` (the hard
/// limit too when we may, i.e. as root); returns the soft limit now in force.
pub fn raise_open_files(want: u64) -> anyhow::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        bail!("getrlimit: {}", std::io::Error::last_os_error());
    }
    if lim.rlim_cur >= want {
        return Ok(lim.rlim_cur);
    }
    let raised = libc::rlimit {
        rlim_cur: want,
        rlim_max: lim.rlim_max.max(want),
    };
    // SAFETY: setrlimit only reads the struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        return Ok(want);
    }
    // Not allowed past the hard limit: go as far as it.
    let capped = libc::rlimit {
        rlim_cur: lim.rlim_max,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &capped) } != 0 {
        bail!("setrlimit: {}", std::io::Error::last_os_error());
    }
    Ok(lim.rlim_max)
}

/// The machine a run happened on, recorded with every result.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Logical CPUs.
    pub cores: usize,
    /// `MemTotal` from `/proc/meminfo`, in KiB.
    pub mem_total_kib: u64,
    /// 1, 5 and 15 minute load averages when the run started.
    pub loadavg: [f64; 3],
    /// How busy all CPUs were (percent) in the second before the run:
    /// other work on the machine skews every figure.
    pub busy_percent: Option<f64>,
    /// Seconds since the Unix epoch when the run started.
    pub unix_time: u64,
}

/// Busy and total jiffies of all CPUs, from the first line of `/proc/stat`.
fn cpu_jiffies() -> Option<(u64, u64)> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    cpu_line_jiffies(stat.lines().next()?)
}

fn cpu_line_jiffies(line: &str) -> Option<(u64, u64)> {
    let fields: Vec<u64> = line
        .strip_prefix("cpu ")?
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = fields.iter().take(8).sum();
    // idle and iowait are the 4th and 5th fields.
    let idle = fields.get(3)? + fields.get(4).unwrap_or(&0);
    Some((total - idle, total))
}

impl Machine {
    /// Describes the machine, watching its CPUs for a second first.
    pub async fn measure() -> Self {
        let before = cpu_jiffies();
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let mut machine = Machine::now();
        if let (Some((b0, t0)), Some((b1, t1))) = (before, cpu_jiffies())
            && t1 > t0
        {
            machine.busy_percent = Some(100.0 * (b1 - b0) as f64 / (t1 - t0) as f64);
        }
        machine
    }

    /// Reads the machine's description now.
    fn now() -> Self {
        let mem_total_kib = fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| status_field_kib(&m, "MemTotal:"))
            .unwrap_or(0);
        let mut loadavg = [0.0; 3];
        if let Ok(text) = fs::read_to_string("/proc/loadavg") {
            for (slot, value) in loadavg.iter_mut().zip(text.split_whitespace()) {
                *slot = value.parse().unwrap_or(0.0);
            }
        }
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            mem_total_kib,
            loadavg,
            busy_percent: None,
            unix_time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rss_from_status() {
        let status = "Name:\tconfab\nVmPeak:\t  9000 kB\nVmRSS:\t   12345 kB\nThreads:\t4\n";
        assert_eq!(status_field_kib(status, "VmRSS:"), Some(12345));
        assert_eq!(status_field_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn reads_cpu_ticks_past_a_name_with_spaces() {
        let stat = "42 (tokio runtime) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0";
        assert_eq!(stat_cpu_ticks(stat), Some(300));
    }

    #[test]
    fn finds_listening_sockets_by_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5555 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:1F40 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 6666 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(listening_inodes(table, 8000), vec![5555]);
        assert!(listening_inodes(table, 8001).is_empty());
    }

    #[test]
    fn reads_busy_jiffies() {
        let line = "cpu  100 5 50 800 20 3 2 0 0 0";
        // Busy: user + nice + system + irq + softirq + steal.
        assert_eq!(cpu_line_jiffies(line), Some((160, 980)));
        assert_eq!(cpu_line_jiffies("cpu0 1 2 3 4"), None);
    }

    #[test]
    fn our_own_process_is_measurable() {
        assert!(own_rss_kib().unwrap() > 0);
        assert!(cpu_secs(std::process::id()).unwrap() >= 0.0);
    }
}
