//! A run's report.html as a page a researcher keeps (issue 28, item 3): the scenario's
//! parameters in tables, the summary rounded with no `null` rows, every embedded image a PNG
//! that decodes, every link resolving to a file of the run directory, nothing loaded from the
//! network; and the page opened by a real headless browser (Chromium), whose screenshot must
//! not be blank. The browser test is skipped, with a message, where no Chromium is installed
//! (.ci/run installs Debian's package first and then requires it: MEANFIELD_REQUIRE_BROWSER=1).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine as _;
use common::{meanfield, scratch_directory};

/// The run directory of a small run with every figure (made once per test binary).
fn run_directory() -> &'static Path {
    static OUT: OnceLock<PathBuf> = OnceLock::new();
    OUT.get_or_init(|| {
        let scratch = scratch_directory("report", "run");
        let scenario = scratch.join("small.toml");
        std::fs::write(
            &scenario,
            "name = \"small\"\nseed = 3\n[model]\nd = 3\nm = 30\nalpha = 1.0\n\
             [init]\nw = { law = \"normal\", std = 0.5 }\n[target]\nk = 2\n\
             [dynamics]\ndt = 0.05\nsteps = 40\n",
        )
        .unwrap();
        let out = scratch.join("out");
        let status = meanfield(&scratch)
            .args(["run", "small.toml", "--out"])
            .arg(&out)
            .arg("--quiet")
            .status()
            .unwrap();
        assert!(status.success());
        out
    })
}

fn page() -> String {
    std::fs::read_to_string(run_directory().join("report.html")).unwrap()
}

/// The values of `attribute="..."` in `page`, in order.
fn attribute_values<'a>(page: &'a str, attribute: &str) -> Vec<&'a str> {
    let marker = format!("{attribute}=\"");
    page.match_indices(&marker)
        .map(|(at, _)| {
            let rest = &page[at + marker.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect()
}

/// The `<td>` of the row whose `<th>` is `key`, in the first table that has one.
fn cell<'a>(page: &'a str, key: &str) -> Option<&'a str> {
    let marker = format!("<tr><th>{key}</th><td>");
    let at = page.find(&marker)? + marker.len();
    Some(&page[at..at + page[at..].find("</td>")?])
}

#[test]
fn the_report_holds_the_parameters_and_a_rounded_summary_without_nulls() {
    let page = page();
    for heading in [
        "<h2>Summary</h2>",
        "<h2>Parameters: [model]</h2>",
        "<h2>Parameters: [init]</h2>",
        "<h2>Parameters: [target]</h2>",
        "<h2>Parameters: [dynamics]</h2>",
        "<h2>Files</h2>",
    ] {
        assert!(page.contains(heading), "{heading} missing");
    }
    // Sections in a reading order: the model before the dynamics.
    assert!(page.find("[model]").unwrap() < page.find("[dynamics]").unwrap());
    assert_eq!(cell(&page, "alpha"), Some("1.0"));
    assert_eq!(
        cell(&page, "w"),
        Some("{ law = &quot;normal&quot;, std = 0.5 }")
    );
    assert!(!page.contains("null"), "a null field is shown");
    // final_test_risk is null for a population run: left out.
    assert!(cell(&page, "final_test_risk").is_none());
    // Rates and wall times to 3 significant digits, risks to 6.
    let digits = |text: &str| {
        let mantissa = text.split('e').next().unwrap();
        mantissa
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
            .trim_start_matches('0')
            .len()
    };
    let rate = cell(&page, "steps_per_second").unwrap();
    assert!(digits(rate) <= 3 || !rate.contains('.'), "{rate}");
    let risk = cell(&page, "final_risk").unwrap();
    assert!(digits(risk) <= 6, "{risk}");
    let stored: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run_directory().join("summary.json")).unwrap(),
    )
    .unwrap();
    let exact = stored["final_risk"].as_f64().unwrap();
    let shown: f64 = risk.parse().unwrap();
    assert!(
        (shown - exact).abs() <= 5e-6 * exact.abs(),
        "{shown} vs {exact}"
    );
}

#[test]
fn every_image_decodes_and_every_link_resolves_in_the_run_directory() {
    let page = page();
    let out = run_directory();
    let sources = attribute_values(&page, "src");
    assert!(sources.len() >= 9, "{} images", sources.len());
    for source in sources {
        let payload = source
            .strip_prefix("data:image/png;base64,")
            .expect("every image embedded as a PNG data URI");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(payload)
            .unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert!(info.width > 100 && info.height > 100);
    }
    let links = attribute_values(&page, "href");
    assert!(links.len() >= 20, "{} links", links.len());
    for href in links {
        assert!(
            !href.contains("://") && !href.starts_with('/') && !href.contains(".."),
            "{href} is not a link into the run directory"
        );
        assert!(out.join(href).exists(), "broken link {href}");
    }
    // The figures link their SVG and their data.
    assert!(page.contains("href=\"plots/risk.svg\"") && page.contains("href=\"series.csv\""));
}

/// The first Chromium on PATH (or MEANFIELD_BROWSER).
fn browser() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("MEANFIELD_BROWSER") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|dir| {
        [
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ]
        .iter()
        .map(|name| dir.join(name))
        .find(|candidate| candidate.is_file())
    })
}

#[test]
fn a_headless_browser_renders_the_report_to_a_screenshot_that_is_not_blank() {
    let Some(browser) = browser() else {
        assert!(
            std::env::var_os("MEANFIELD_REQUIRE_BROWSER").is_none(),
            "MEANFIELD_REQUIRE_BROWSER is set but no Chromium is on PATH"
        );
        eprintln!("skipping the browser test: no chromium on PATH (.ci/run installs one)");
        return;
    };
    let report = run_directory().join("report.html");
    let shot = scratch_directory("report", "browser").join("shot.png");
    let profile = scratch_directory("report", "profile");
    let output = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--window-size=1200,4000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", report.display()))
        .output()
        .unwrap();
    assert!(
        shot.exists(),
        "{} wrote no screenshot: {}",
        browser.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buffer).unwrap();
    let bytes = &buffer[..frame.buffer_size()];
    let channels = frame.color_type.samples();
    let pixels: Vec<&[u8]> = bytes.chunks_exact(channels).collect();
    let dark = pixels
        .iter()
        .filter(|p| p.iter().take(3).map(|&c| u32::from(c)).sum::<u32>() < 600)
        .count();
    let colours: std::collections::HashSet<&[u8]> = pixels.iter().copied().collect();
    // Text, tables and figures: a few percent of the page is ink, in many colours.
    let ink = dark as f64 / pixels.len() as f64;
    assert!(ink > 0.01, "the page looks blank: {:.4} of it inked", ink);
    assert!(colours.len() > 50, "{} colours only", colours.len());
}
