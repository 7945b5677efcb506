//! Shapes of values between nodes (batch dimension left out) and explicit 2-D padding.

use serde::{Deserialize, Serialize};

/// Shape of an activation (without the batch dimension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Shape {
    /// Channels, height, width.
    Chw(usize, usize, usize),
    /// Features.
    Flat(usize),
}

impl Shape {
    /// Number of values.
    pub fn numel(self) -> usize {
        match self {
            Self::Chw(c, h, w) => c * h * w,
            Self::Flat(n) => n,
        }
    }

    /// Channels (features for a flat shape).
    pub fn channels(self) -> usize {
        match self {
            Self::Chw(c, _, _) => c,
            Self::Flat(n) => n,
        }
    }

    /// Positions per channel: `h·w` for a spatial shape, 1 for a flat one.
    pub fn positions(self) -> usize {
        match self {
            Self::Chw(_, h, w) => h * w,
            Self::Flat(_) => 1,
        }
    }

    /// The same shape with `c` channels (features).
    pub fn with_channels(self, c: usize) -> Shape {
        match self {
            Self::Chw(_, h, w) => Self::Chw(c, h, w),
            Self::Flat(_) => Self::Flat(c),
        }
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Chw(c, h, w) => write!(f, "[{c}, {h}, {w}]"),
            Self::Flat(n) => write!(f, "[{n}]"),
        }
    }
}

/// Zero padding around a 2-D input, in pixels: `[top, left, bottom, right]` (ONNX's order
/// is `[top, left, bottom, right]` too). TensorFlow's 'SAME' for a stride-2 3×3 conv on an
/// even size is `[0, 0, 1, 1]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Pad(pub [usize; 4]);

impl Pad {
    /// The same padding on every side.
    pub const fn same(p: usize) -> Pad {
        Pad([p; 4])
    }
    /// Top.
    pub const fn top(self) -> usize {
        self.0[0]
    }
    /// Left.
    pub const fn left(self) -> usize {
        self.0[1]
    }
    /// Bottom.
    pub const fn bottom(self) -> usize {
        self.0[2]
    }
    /// Right.
    pub const fn right(self) -> usize {
        self.0[3]
    }
}

/// Output length of a window of `k` moved by `s` over `n` values padded by `lo` and `hi`,
/// if the window fits at least once.
pub fn window(n: usize, k: usize, s: usize, lo: usize, hi: usize) -> Option<usize> {
    (k > 0 && s > 0 && n + lo + hi >= k).then(|| (n + lo + hi - k) / s + 1)
}
