//! The README examples, compiled and run as doc tests so they stay true. They live
//! here, not in each crate, so that a published crate never refers to a file outside
//! its own package (the workspace README), and because this crate depends on every
//! crate the examples use (the clients, the simulator, tokio).

/// The workspace README.
#[doc = include_str!("../../../README.md")]
struct WorkspaceReadme;

/// `deepidv-core`'s README.
#[doc = include_str!("../../deepidv-core/README.md")]
struct CoreReadme;

/// `deepidv-ureq`'s README.
#[doc = include_str!("../../deepidv-ureq/README.md")]
struct UreqReadme;

/// `deepidv-reqwest`'s README.
#[doc = include_str!("../../deepidv-reqwest/README.md")]
struct ReqwestReadme;

/// `deepidv-batch`'s README.
#[doc = include_str!("../../deepidv-batch/README.md")]
struct BatchReadme;
