//! Durations on the command line (humantime), bounded: never a panic on overflow.

/// A duration like `30s`, `2m`, `1h30m`, `1d` (humantime), at most `max`: an overflow or an
/// absurd figure is a configuration error (exit 2), never a panic.
pub fn parse_duration_at_most(
    s: &str,
    max: std::time::Duration,
) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("`{s}` is not a duration like 30s, 2m, 1h30m or 1d: {e}"))?;
    if d > max {
        return Err(format!(
            "`{s}` is longer than the limit of {}",
            humantime::format_duration(max)
        ));
    }
    Ok(d)
}

/// `janitor --older-than`: at most ten years.
pub fn parse_age(s: &str) -> Result<std::time::Duration, String> {
    parse_duration_at_most(s, std::time::Duration::from_secs(3650 * 86_400))
}

/// `load --duration`: positive, at most a day.
pub fn parse_load_duration(s: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration_at_most(s, std::time::Duration::from_secs(86_400))?;
    if d.is_zero() {
        return Err(format!("`{s}`: the duration must be positive"));
    }
    Ok(d)
}
