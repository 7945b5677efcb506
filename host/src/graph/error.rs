//! Errors of the graph IR: spec files, validation (each naming the node), widths, presets.

/// Building, reading or reshaping a [`Graph`](super::Graph).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// A spec file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A spec file is not valid JSON or not a graph.
    #[error("{path}: {message}")]
    Parse {
        /// The file (or `<spec>`).
        path: String,
        /// What serde or the reader said.
        message: String,
    },
    /// A node's op could not be read (unknown op type or field, wrong value).
    #[error("node `{node}`: {message}")]
    Op {
        /// The node.
        node: String,
        /// serde's message (names the unknown op or field).
        message: String,
    },
    /// Two nodes (or a node and the input) share a name.
    #[error("name `{name}` is defined twice")]
    Duplicate {
        /// The name.
        name: String,
    },
    /// A node reads a value no node defines.
    #[error("node `{node}` reads `{value}`, which no node defines")]
    Undefined {
        /// The node.
        node: String,
        /// The missing value.
        value: String,
    },
    /// A node reads a value defined by a later node (nodes are listed in execution order).
    #[error(
        "node `{node}` reads `{value}` before it is defined (by node `{defined_by}`, later in the list)"
    )]
    UsedBeforeDefined {
        /// The node.
        node: String,
        /// The value.
        value: String,
        /// Its producer.
        defined_by: String,
    },
    /// The nodes' inputs form a cycle.
    #[error("the graph has a cycle: {path}")]
    Cycle {
        /// The nodes around it, `a -> b -> a`.
        path: String,
    },
    /// A node has the wrong number of inputs.
    #[error("node `{node}` ({op}) takes {expected} input(s), has {found}")]
    Arity {
        /// The node.
        node: String,
        /// Its op.
        op: &'static str,
        /// Inputs it takes.
        expected: usize,
        /// Inputs listed.
        found: usize,
    },
    /// A node's inputs don't fit its op.
    #[error("node `{node}` ({op}): {message}")]
    Shape {
        /// The node.
        node: String,
        /// Its op.
        op: &'static str,
        /// What does not fit.
        message: String,
    },
    /// The output is not the logits the classes need.
    #[error("output `{output}` has shape {shape}, expected [{classes}] logits")]
    Output {
        /// The output value.
        output: String,
        /// Its shape.
        shape: String,
        /// Classes.
        classes: usize,
    },
    /// A channel-group question that does not fit the graph.
    #[error("{0}")]
    Groups(String),
    /// No preset of that name.
    #[error("unknown architecture `{name}` (known: {known})")]
    UnknownPreset {
        /// The name asked for.
        name: String,
        /// The presets.
        known: String,
    },
    /// A legacy (version 1) sequential spec is invalid.
    #[error("layer {index} ({layer}): {what}")]
    Legacy {
        /// Layer index in the v1 list.
        index: usize,
        /// Its kind.
        layer: &'static str,
        /// What is wrong.
        what: String,
    },
}
