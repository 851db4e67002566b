//! Unified multimodal models: understanding (image + prompt → text) and generation (prompt →
//! image tokens → pixels) on exported graphs.
//!
//! - [`janus`]: the six-graph layout of Janus-Pro exports (`prepare_inputs_embeds`,
//!   `language_model`, `lm_head`, `gen_head`, `gen_img_embeds`, `image_decode`), as
//!   onnx-community publishes them for transformers.js;
//! - [`unifork`]: the Y-shaped UniFork layout (a shared trunk, an understanding branch and a
//!   generation branch, each with its own KV cache), VQ codes for images;
//! - [`sampling`]: greedy, temperature, top-k and top-p sampling with a seeded generator, and
//!   classifier-free guidance.

pub mod janus;
mod kv;
pub mod sampling;
pub mod unifork;

pub use janus::{letterbox, to_rgb, Janus, JanusConfig, JanusOptions, RgbImage, Variant};
pub use sampling::{cfg_combine, guidance_rows, Sampler};
pub use unifork::{Task, UniFork, UniForkConfig};
