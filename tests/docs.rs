//! The documentation stays true: the worked example is the compiled test file, the CI
//! example parses as YAML and runs the README's commands, and the README links the guides.

#[test]
fn fixtures_guide_shows_the_compiled_example() {
    let doc = include_str!("../docs/fixtures.md");
    let code = include_str!("example_check.rs");
    assert!(
        doc.contains(code.trim_end()),
        "docs/fixtures.md differs from tests/example_check.rs"
    );
}

#[test]
fn github_actions_example_is_valid_yaml_with_the_gate() {
    let text = include_str!("../docs/examples/github-actions.yml");
    let docs = yaml_rust2::YamlLoader::load_from_str(text)
        .expect("docs/examples/github-actions.yml parses");
    let doc = &docs[0];
    let jobs = doc["jobs"].as_hash().expect("a jobs map");
    assert!(jobs.len() >= 2);
    let steps = |job: &str| {
        doc["jobs"][job]["steps"]
            .as_vec()
            .cloned()
            .unwrap_or_default()
    };
    let runs: Vec<String> = ["stand-in", "live"]
        .iter()
        .flat_map(|j| steps(j))
        .filter_map(|s| s["run"].as_str().map(str::to_owned))
        .collect();
    assert!(runs.iter().any(|r| r.contains("make test")));
    assert!(
        runs.iter()
            .any(|r| r.contains("--profile live") && r.contains("--partition count:"))
    );
    assert!(runs.iter().any(|r| r.contains(" report ")));
    assert_eq!(
        doc["jobs"]["live"]["env"]["HOKUSAI_STRICT"].as_str(),
        Some("1")
    );
    assert!(!text.contains("hk_live_"), "no key in the example");
}

#[test]
fn readme_links_every_guide() {
    let readme = include_str!("../README.md");
    for doc in [
        "docs/execution-guide.md",
        "docs/configuration.md",
        "docs/fixtures.md",
        "docs/architecture.md",
        "docs/ci.md",
        "docs/root-causes.md",
        "docs/fault-matrix.md",
    ] {
        assert!(readme.contains(doc), "README.md does not link {doc}");
        assert!(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(doc)
                .exists(),
            "{doc} missing"
        );
    }
}
