//! A model package compiled into the binary (feature `embed-model`): firmware needs no file
//! system. The build embeds the folder EDGERT_EMBED_MODEL names (default: models/tss-small),
//! with its `compiled/` artifacts and query embeddings when it has them (run `edgert compile`
//! on it first: a start with a compiled query then loads no text encoder).
//!
//! ```no_run
//! # fn main() -> edgert::Result<()> {
//! let pkg = edgert::embedded::package()?;
//! let opts = edgert::separation::enhance::EnhanceOptions::default();
//! let mut built = edgert::separation::build(&pkg, Some("remove the siren"), &opts)?;
//! # Ok(()) }
//! ```

use crate::error::Result;
use crate::package::{Blob, Package};

mod files {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

pub use files::{FILES, HASHES, SOURCE};

/// The embedded package, validated as a folder would be (an invalid one is an error, never a
/// panic). Each call validates afresh; the graphs are read where they lie in the binary (no copy).
pub fn package() -> Result<Package> {
    let name = package_name(FILES);
    Package::from_memory(
        &format!("embedded:{name}"),
        FILES.iter().map(|(n, b)| {
            // The build hashed these very bytes (they are the binary's read-only data).
            let blob = match HASHES.iter().find(|(h, _)| h == n) {
                Some((_, h)) => Blob::StaticHashed(b, *h),
                None => Blob::Static(b),
            };
            (n.to_string(), blob)
        }),
    )
}

/// A package from `(relative path, bytes)` pairs, as the build embeds them.
pub fn from_files(files: &[(&str, &'static [u8])]) -> Result<Package> {
    let name = package_name(files);
    Package::from_memory(&format!("embedded:{name}"), files.iter().map(|(n, b)| (n.to_string(), Blob::from(*b))))
}

fn package_name(files: &[(&str, &[u8])]) -> String {
    files
        .iter()
        .find(|(n, _)| *n == crate::package::MANIFEST)
        .and_then(|(_, b)| std::str::from_utf8(b).ok())
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| t.get("model")?.get("name")?.as_str().map(str::to_string))
        .unwrap_or_else(|| "package".to_string())
}

/// Total bytes embedded.
pub fn size() -> usize {
    FILES.iter().map(|(_, b)| b.len()).sum()
}
