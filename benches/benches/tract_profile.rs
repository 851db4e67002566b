//! Where tract spends a hop: mean µs per operator type for each real model (tract's plan run
//! with a timing evaluator). Prints a table; read it beside per_call's tract/ort-cpu ratio to
//! name the operators that dominate where tract is slower.
//!
//! EDGERT_PROFILE_ONLY=gtcrn profiles one model; EDGERT_PROFILE_TOP=N prints N rows (default 6);
//! EDGERT_PROFILE_NODES=1 gives one row per node instead of per operator type.

use edgert::backend::{self, Provider};
use edgert_benches::{hop, MODELS};

fn main() {
    if !Provider::Tract.compiled() {
        println!("tract is not in this build");
        return;
    }
    let only = std::env::var("EDGERT_PROFILE_ONLY").ok();
    for (name, case) in MODELS.iter().filter(|(n, _)| only.as_deref().map_or(true, |o| o == *n)) {
        let hop = hop(case).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut s = backend::load_on(&hop.graph, &hop.options, Provider::Tract).unwrap_or_else(|e| panic!("{name}: {e}"));
        let profile = s.op_profile(&hop.inputs(), 200).unwrap_or_else(|e| panic!("{name}: {e}"));
        let total: f64 = profile.iter().map(|(_, us)| us).sum();
        println!("\n{name}: {total:.1} µs per hop in operators");
        for (op, us) in profile.iter().take(std::env::var("EDGERT_PROFILE_TOP").ok().and_then(|s| s.parse().ok()).unwrap_or(6)) {
            println!("  {op:<28} {us:>9.1} µs  {:>5.1} %", 100.0 * us / total);
        }
    }
}
