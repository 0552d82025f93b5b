//! The suite's own resource use during a run: CPU (percent of one core) and peak memory,
//! sampled with `sysinfo`.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Peak resident memory of this process so far, in MB (Linux `VmHWM`; `None` elsewhere).
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessUsage {
    /// Mean CPU over the samples, percent of one core.
    pub cpu_mean_percent: f64,
    pub cpu_max_percent: f64,
    /// Peak resident memory (MB).
    pub peak_rss_mb: f64,
    pub samples: usize,
}

/// Samples this process every `every` until stopped.
pub struct ResourceSampler {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<ProcessUsage>,
}

impl ResourceSampler {
    pub fn start(every: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let pid = sysinfo::get_current_pid().expect("own pid");
            // sysinfo 0.40: `System::new()` is fallible (no /proc, say): then no samples.
            let Ok(mut sys) = sysinfo::System::new() else {
                return ProcessUsage::default();
            };
            let refresh = |sys: &mut sysinfo::System| {
                sys.refresh_processes_specifics(
                    sysinfo::ProcessesToUpdate::Some(&[pid]),
                    true,
                    sysinfo::ProcessRefreshKind::nothing()
                        .with_cpu()
                        .with_memory(),
                )
            };
            refresh(&mut sys);
            let (mut sum, mut max, mut peak, mut n) = (0.0f64, 0.0f64, 0u64, 0usize);
            while !flag.load(Ordering::SeqCst) {
                std::thread::sleep(every);
                refresh(&mut sys);
                if let Some(p) = sys.process(pid) {
                    let cpu = f64::from(p.cpu_usage());
                    sum += cpu;
                    max = max.max(cpu);
                    peak = peak.max(p.memory());
                    n += 1;
                }
            }
            ProcessUsage {
                cpu_mean_percent: if n > 0 { sum / n as f64 } else { 0.0 },
                cpu_max_percent: max,
                peak_rss_mb: peak as f64 / (1024.0 * 1024.0),
                samples: n,
            }
        });
        Self { stop, handle }
    }

    pub fn stop(self) -> ProcessUsage {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().unwrap_or_default()
    }
}
