//! Numbers about numbers and about the machine: percentiles of latency
//! samples, the machine's cores, memory and load, and how much CPU other
//! processes took while a scenario ran (so a noisy figure says it is noisy).

use std::fs;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Percentiles of a set of samples in microseconds (nearest rank).
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub count: usize,
    pub min_us: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub mean_us: u64,
}

impl Summary {
    /// Sorts `samples` in place and summarises them; all zero when empty.
    pub fn of(samples: &mut [u64]) -> Summary {
        if samples.is_empty() {
            return Summary::default();
        }
        samples.sort_unstable();
        let sum: u128 = samples.iter().map(|&s| s as u128).sum();
        Summary {
            count: samples.len(),
            min_us: samples[0],
            p50_us: percentile(samples, 50.0),
            p90_us: percentile(samples, 90.0),
            p99_us: percentile(samples, 99.0),
            max_us: samples[samples.len() - 1],
            mean_us: (sum / samples.len() as u128) as u64,
        }
    }

    pub fn json(&self) -> Value {
        json!({
            "count": self.count,
            "min_ms": ms(self.min_us),
            "p50_ms": ms(self.p50_us),
            "p90_ms": ms(self.p90_us),
            "p99_ms": ms(self.p99_us),
            "max_ms": ms(self.max_us),
            "mean_ms": ms(self.mean_us),
        })
    }
}

/// The nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Microseconds as milliseconds with three decimals, for JSON.
pub fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Microseconds in a duration, saturating.
pub fn us(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

/// A human figure for a latency in microseconds: `0.42 ms`, `12.3 ms`, `1.52 s`.
pub fn fmt_us(us: u64) -> String {
    let ms = us as f64 / 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

/// Bytes as MiB with one decimal.
pub fn fmt_mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Bytes as KiB with one decimal.
pub fn fmt_kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// What the machine is: CPU model, cores, memory, kernel.
pub fn machine() -> Value {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    json!({
        "cpu": model,
        "cores": cores,
        "memory_gib": (mem_kib as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        "kernel": kernel,
    })
}

/// The 1-minute load average.
pub fn loadavg() -> f64 {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// CPU time (user + system) a process has used, in clock ticks; 0 if gone.
fn process_ticks(pid: u32) -> u64 {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The command name may hold spaces: fields start after the last ')'.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0);
    let stime: u64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    utime + stime
}

/// Busy clock ticks of all CPUs together (everything but idle and iowait).
fn machine_busy_ticks() -> u64 {
    let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0;
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal guest guest_nice
    let get = |i: usize| v.get(i).copied().unwrap_or(0);
    get(0) + get(1) + get(2) + get(5) + get(6) + get(7)
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// A snapshot to tell, at the end of a scenario, how much CPU the server, the
/// fake upstream, this harness and everything else on the machine used.
pub struct CpuWatch {
    at: Instant,
    busy: u64,
    server_pid: u32,
    fake_pid: u32,
    server: u64,
    fake: u64,
    me: u64,
}

impl CpuWatch {
    pub fn start(server_pid: u32, fake_pid: u32) -> CpuWatch {
        CpuWatch {
            at: Instant::now(),
            busy: machine_busy_ticks(),
            server_pid,
            fake_pid,
            server: process_ticks(server_pid),
            fake: process_ticks(fake_pid),
            me: process_ticks(std::process::id()),
        }
    }

    /// CPU used since `start`, in cores (1.0 = one core busy the whole time):
    /// `{server, fake, bench, others}_cores`, and the server's CPU time in
    /// seconds (`server_cpu_seconds`, to divide by the requests it served).
    /// `others` is the noise: compilers and tests of other people on the
    /// same machine.
    pub fn stop(&self) -> Value {
        let secs = self.at.elapsed().as_secs_f64().max(1e-3);
        let hz = ticks_per_second();
        let cores = |ticks: u64| ((ticks as f64 / hz / secs) * 100.0).round() / 100.0;
        let server = process_ticks(self.server_pid).saturating_sub(self.server);
        let fake = process_ticks(self.fake_pid).saturating_sub(self.fake);
        let me = process_ticks(std::process::id()).saturating_sub(self.me);
        let busy = machine_busy_ticks().saturating_sub(self.busy);
        let others = busy.saturating_sub(server + fake + me);
        json!({
            "seconds": (secs * 100.0).round() / 100.0,
            "server_cpu_seconds": server as f64 / hz,
            "server_cores": cores(server),
            "fake_cores": cores(fake),
            "bench_cores": cores(me),
            "others_cores": cores(others),
        })
    }
}

/// The server's CPU time of a [`CpuWatch`] reading per unit of work
/// (request, stream), in milliseconds; null when no unit was done.
pub fn cpu_ms_per(cpu: &Value, units: u64) -> Value {
    if units == 0 {
        return Value::Null;
    }
    let seconds = cpu["server_cpu_seconds"].as_f64().unwrap_or(0.0);
    json!((seconds * 1e6 / units as f64).round() / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut s: Vec<u64> = (1..=100).collect();
        let sum = Summary::of(&mut s);
        assert_eq!(sum.p50_us, 50);
        assert_eq!(sum.p99_us, 99);
        assert_eq!(sum.max_us, 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(Summary::of(&mut []).count, 0);
    }

    #[test]
    fn latencies_are_printed_in_a_readable_unit() {
        assert_eq!(fmt_us(420), "0.42 ms");
        assert_eq!(fmt_us(12_345), "12.3 ms");
        assert_eq!(fmt_us(1_520_000), "1.52 s");
    }

    #[test]
    fn cpu_per_unit_is_in_milliseconds() {
        let cpu = json!({ "server_cpu_seconds": 1.5 });
        assert_eq!(cpu_ms_per(&cpu, 10_000), json!(0.15));
        assert_eq!(cpu_ms_per(&cpu, 0), Value::Null);
    }
}
