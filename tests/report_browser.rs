//! The HTML report in a real browser (headless Chromium, the Debian package `.ci/run`
//! installs): at a 1366 px wide window nothing overflows sideways, and the verdict banner
//! with the first fix is visible without scrolling, for a healthy run and a failing one.
//! A machine without Chromium skips with the reason (CI, which has it, never skips).

use hokusai_verify::catalogue::{Area, Fault};
use hokusai_verify::config::Profile;
use hokusai_verify::report::{self, Report};
use hokusai_verify::selftest::{Scenario, run};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What the page measures of itself once loaded (the script is added to a copy).
const MEASURE: &str = r#"<script>
const d = document.documentElement;
const v = document.getElementById('verdict').getBoundingClientRect();
const f = document.getElementById('first-fix').getBoundingClientRect();
document.body.setAttribute('data-measure', JSON.stringify({
  scroll_width: d.scrollWidth, inner_width: window.innerWidth, inner_height: window.innerHeight,
  verdict_bottom: v.bottom, fix_bottom: f.bottom, fix_text: document.getElementById('first-fix').textContent,
  verdict_text: document.getElementById('verdict').textContent
}));
</script>"#;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|b| {
            std::env::var_os("PATH")
                .into_iter()
                .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
                .map(move |d| d.join(b))
        })
        .find(|p| p.is_file())
}

/// Loads `html` at 1366 x 768 and returns what it measured.
fn measure(browser: &Path, html: &Path) -> serde_json::Value {
    let page = std::fs::read_to_string(html).unwrap();
    let probe = html.with_file_name("measured.html");
    std::fs::write(
        &probe,
        page.replace("</body>", &format!("{MEASURE}</body>")),
    )
    .unwrap();
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1366,768",
            "--dump-dom",
        ])
        .arg(format!("file://{}", probe.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    // Bounded: a browser that hangs fails the test instead of the run.
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    let attr = dom
        .split("data-measure=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no measurement in the DOM: {dom}"));
    let json = attr
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap()
}

async fn write_report(dir: &Path, faults: &[Fault]) -> Report {
    let results = run(
        &Profile::default_profile(),
        &Scenario {
            faults: faults.to_vec(),
            areas: vec![Area::InfraHealth, Area::Authentication, Area::MlflowProxy],
            ..Default::default()
        },
    )
    .await;
    let mut r = Report::build(results, vec![]);
    report::write_all(&mut r, dir).unwrap();
    r
}

#[tokio::test]
async fn the_html_report_fits_the_window_with_the_verdict_on_top() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must have chromium (.ci/run installs it)"
        );
        eprintln!("skipped: no chromium on PATH (apt-get install chromium)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("hv-html-{}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    // A healthy run, then a failing one over the same folder (so it shows the change).
    for (faults, verdict) in [(vec![], "HEALTHY"), (vec![Fault::MlflowDown], "DEGRADED")] {
        let r = write_report(&dir, &faults).await;
        assert_eq!(r.verdict.label(), verdict);
        let m = measure(&browser, &dir.join("report.html"));
        let num = |k: &str| m[k].as_f64().unwrap_or(f64::MAX);
        assert!(
            num("scroll_width") <= num("inner_width"),
            "{verdict}: the page overflows sideways: {m}"
        );
        assert!(
            num("fix_bottom") <= num("inner_height"),
            "{verdict}: the first fix is below the fold: {m}"
        );
        let banner = m["verdict_text"].as_str().unwrap_or("");
        assert!(banner.contains(verdict), "{m}");
        let fix = m["fix_text"].as_str().unwrap_or("");
        if faults.is_empty() {
            // Three of the six areas ran: a partial run never says "no action needed".
            assert!(
                fix.contains("Every check that ran passed") && !fix.contains("No action needed"),
                "{m}"
            );
        } else {
            assert!(
                fix.starts_with("First fix:") && fix.contains("MLflow"),
                "{m}"
            );
            let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
            assert!(html.contains("Since the previous run") && html.contains("Newly failing"));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
