//! Conformance: every golden case on every backend this build has, against ONNX Runtime
//! Python's outputs. A graph a backend cannot run fails with the backend's error; nothing is
//! skipped. Cases and tolerances live in tests/golden/<case>/case.toml.

use edgert::backend::Provider;
use edgert_tests::golden::{all_cases, check};

macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        /// The cases the macros below run; a test checks it matches tests/golden.
        const CASES: &[&str] = &[$(stringify!($case)),*];
        #[cfg(feature = "tract")]
        mod tract {
            use super::*;
            $( #[test] fn $case() { check(stringify!($case), Provider::Tract); } )*
        }
        #[cfg(feature = "ort")]
        mod ort_cpu {
            use super::*;
            $( #[test] fn $case() { check(stringify!($case), Provider::OrtCpu); } )*
        }
    };
}

cases!(silero_vad, gtcrn, dfn3_enc, dfn3_erb_dec, dfn3_df_dec, dtln_stage1, dtln_stage2, nsnet2_16k, quant_dynamic, quant_qdq, dtypes,);

#[test]
fn every_golden_case_is_run() {
    let on_disk = all_cases();
    let mut listed: Vec<String> = CASES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "tests/golden and the cases! list in tests/tests/conformance.rs differ");
}

#[test]
fn comparison_catches_a_perturbed_output() {
    use edgert::tensor::Tensor;
    use edgert_tests::golden::compare;
    let r = Tensor::from_f32(&[3], vec![0.5, -2.0, 100.0]).unwrap();
    let ok = Tensor::from_f32(&[3], vec![0.50005, -2.0001, 100.009]).unwrap();
    assert!(compare(&ok, &r, 1e-4).is_ok());
    let bad = Tensor::from_f32(&[3], vec![0.5, -2.0, 100.02]).unwrap();
    let e = compare(&bad, &r, 1e-4).unwrap_err();
    assert!(e.contains("1 of 3"), "{e}");
    let nan = Tensor::from_f32(&[3], vec![f32::NAN, -2.0, 100.0]).unwrap();
    assert!(compare(&nan, &r, 1e-4).is_err(), "NaN must never compare equal");
    let wrong_shape = Tensor::from_f32(&[1, 3], vec![0.5, -2.0, 100.0]).unwrap();
    assert!(compare(&wrong_shape, &r, 1e-4).is_err());
}
