//! What the load benches read about a process and a set of latencies: peak RSS and CPU time
//! from `/proc`, and percentiles. Use with `#[path = "common/process.rs"] mod process;`.

use std::time::Duration;

/// (VmHWM kB, utime + stime in clock ticks) of `pid`; zeros when it cannot be read.
pub fn usage(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the `(comm)`: utime is the 14th field of the line, stime the 15th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: u64 = rest.split_whitespace().skip(11).take(2).filter_map(|f| f.parse::<u64>().ok()).sum();
    (hwm, ticks)
}

/// The nearest-rank percentile `p` (0.5 for the median, 0.99 for p99) of `sorted`; zero when
/// it is empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied().unwrap_or_default()
}
