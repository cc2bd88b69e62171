//! Local Sanctuary networks for the demo, the benchmarks and the tests
//! (not published): the node processes of a network directory and waiting
//! for them ([`Nodes`], [`wait_ready`]), nodes in this process ([`inproc`]),
//! the rogue operator (the real engine with its checks switched off,
//! [`rogue`]), three MPC parties in this process ([`local`]), and the
//! scenarios behind `sanctuary demo`, `sanctuary bench` and `sanctuary
//! eval`.
#![warn(missing_docs)]

pub mod bench;
pub mod bench_network;
pub mod demo;
pub mod eval;
pub mod faces;
pub mod inproc;
pub mod local;
mod nodes;
pub mod rogue;
pub mod synth;
mod weave_scene;

// The public interface is:
pub use nodes::{Nodes, wait_ready};
pub use weave_scene::WeaveReport;
