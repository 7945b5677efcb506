//! The activation memory planner: tensor lifetimes from the op list, then arena offsets.
//! Several strategies are tried (TFLM's greedy-by-size, greedy by first use, and ping-pong
//! for chains) and the smallest arena wins; the live-set lower bound says how close it is.
//! A conv and the add reading its output are fused where nothing else reads them
//! ([`crate::fuse`]): the conv's output takes no bytes, the add's output takes its skip's.

use crate::format::DATA_ALIGN;
#[cfg(feature = "alloc")]
use crate::format::{Op, Precision};
#[cfg(feature = "alloc")]
use alloc::vec::Vec;

/// Rounds `n` up to the arena alignment.
pub const fn align_up(n: usize) -> usize {
    n.div_ceil(DATA_ALIGN) * DATA_ALIGN
}

/// Inclusive range of op indices during which a tensor's bytes must be kept: from the op
/// that writes it (the input: op 0) to the last op that reads it (the output: one past the
/// last op).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    pub first: usize,
    pub last: usize,
}

impl Lifetime {
    /// Whether two lifetimes share an op.
    pub const fn overlaps(&self, o: &Lifetime) -> bool {
        self.first <= o.last && o.first <= self.last
    }
}

/// Which strategy produced a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// TFLM's default: largest buffers first, each at the lowest offset that fits.
    GreedyBySize,
    /// Buffers in the order they are first written, each at the lowest offset that fits.
    GreedyByFirstUse,
    /// A chain of ops alternates its buffers between the bottom and the top of the arena.
    PingPong,
}

/// A placed arena: one offset per tensor.
#[cfg(feature = "alloc")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub offsets: Vec<u32>,
    /// Bytes of the arena (highest end of any buffer).
    pub arena_bytes: usize,
    /// Largest total of simultaneously live buffers: no plan can be smaller.
    pub lower_bound: usize,
    pub strategy: Strategy,
}

/// Liveness of every tensor of a graph; `None` for tensors no op writes or reads.
#[cfg(feature = "alloc")]
pub fn lifetimes(n_tensors: usize, input: u16, output: u16, ops: &[Op]) -> Vec<Option<Lifetime>> {
    let mut life: Vec<Option<Lifetime>> = alloc::vec![None; n_tensors];
    let touch = |t: u16, at: usize, life: &mut Vec<Option<Lifetime>>| {
        if let Some(slot) = life.get_mut(t as usize) {
            *slot = Some(match *slot {
                None => Lifetime {
                    first: at,
                    last: at,
                },
                Some(l) => Lifetime {
                    first: l.first.min(at),
                    last: l.last.max(at),
                },
            });
        }
    };
    touch(input, 0, &mut life);
    for (i, op) in ops.iter().enumerate() {
        for t in op.inputs().into_iter().flatten() {
            touch(t, i, &mut life);
        }
        touch(op.output(), i, &mut life);
    }
    touch(output, ops.len(), &mut life);
    life
}

/// A buffer in the arena: one tensor, or a tensor and its flatten views.
#[cfg(feature = "alloc")]
#[derive(Debug, Clone, Copy)]
struct Buffer {
    size: usize,
    life: Lifetime,
}

/// The conv + add pairs of `ops` to fuse: for op `i` a conv and op `i + 1` an add with
/// [`crate::fuse::conv_add`], where the conv's output and the add's skip are read by nothing
/// later (nor are the model output). Returns `(i, fusion)` per pair.
#[cfg(feature = "alloc")]
pub fn fusions(
    precision: Precision,
    n_tensors: usize,
    input: u16,
    output: u16,
    ops: &[Op],
) -> Vec<(usize, crate::fuse::ConvAdd)> {
    let life = lifetimes(n_tensors, input, output, ops);
    let ends_at = |t: u16, at: usize| {
        t != output && life.get(t as usize).copied().flatten().map(|l| l.last) == Some(at)
    };
    ops.windows(2)
        .enumerate()
        .filter_map(|(i, w)| match w[0] {
            Op::Conv2d(c) => crate::fuse::conv_add(precision, &c, &w[1])
                .filter(|f| ends_at(c.output, i + 1) && ends_at(f.skip, i + 1))
                .map(|f| (i, f)),
            _ => None,
        })
        .collect()
}

/// Plans arena offsets for tensors of `sizes` bytes. Flatten outputs share their input's
/// buffer, and so do a fused add's output and its conv's output with the skip
/// ([`fusions`]). Returns the smallest plan among the strategies.
#[cfg(feature = "alloc")]
pub fn plan(sizes: &[usize], input: u16, output: u16, ops: &[Op], precision: Precision) -> Plan {
    let n = sizes.len();
    let life = lifetimes(n, input, output, ops);
    // Union flatten outputs into their input's buffer, fused adds into their skip's.
    let mut root: Vec<usize> = (0..n).collect();
    let fused = fusions(precision, n, input, output, ops);
    let mut fi = fused.iter().peekable();
    for (i, op) in ops.iter().enumerate() {
        if let Op::Flatten(f) = op {
            let (i, o) = (f.input as usize, f.output as usize);
            if i < n && o < n {
                root[o] = root[i];
            }
        }
        if let Some((at, f)) = fi.peek()
            && *at + 1 == i
        {
            let (s, z) = (f.skip as usize, f.add.output as usize);
            let c = match ops[*at] {
                Op::Conv2d(c) => c.output as usize,
                _ => z,
            };
            if s < n && z < n && c < n {
                root[z] = root[s];
                root[c] = root[s];
            }
            fi.next();
        }
    }
    let mut buffers: Vec<Option<Buffer>> = alloc::vec![None; n];
    for t in 0..n {
        let Some(l) = life[t] else { continue };
        let r = root[t];
        let size = align_up(sizes[t]);
        buffers[r] = Some(match buffers[r] {
            None => Buffer { size, life: l },
            Some(b) => Buffer {
                size: b.size.max(size),
                life: Lifetime {
                    first: b.life.first.min(l.first),
                    last: b.life.last.max(l.last),
                },
            },
        });
    }
    let lower_bound = (0..=ops.len())
        .map(|step| {
            buffers
                .iter()
                .flatten()
                .filter(|b| b.life.first <= step && step <= b.life.last)
                .map(|b| b.size)
                .sum::<usize>()
        })
        .max()
        .unwrap_or(0);

    let ids: Vec<usize> = (0..n).filter(|&t| buffers[t].is_some()).collect();
    let buf = |t: usize| {
        buffers[t].unwrap_or(Buffer {
            size: 0,
            life: Lifetime { first: 0, last: 0 },
        })
    };

    let mut by_size = ids.clone();
    by_size.sort_by_key(|&t| (core::cmp::Reverse(buf(t).size), buf(t).life.first));
    let mut by_first = ids.clone();
    by_first.sort_by_key(|&t| (buf(t).life.first, core::cmp::Reverse(buf(t).size)));

    let mut candidates: Vec<(Strategy, Vec<usize>)> = alloc::vec![
        (Strategy::GreedyBySize, greedy(&by_size, &buf, n)),
        (Strategy::GreedyByFirstUse, greedy(&by_first, &buf, n)),
    ];
    if let Some(p) = ping_pong(&by_first, &buf, n) {
        candidates.push((Strategy::PingPong, p));
    }
    let end = |offs: &Vec<usize>| {
        ids.iter()
            .map(|&t| offs[t] + buf(t).size)
            .max()
            .unwrap_or(0)
    };
    let (strategy, best) = candidates
        .into_iter()
        .min_by_key(|(_, offs)| end(offs))
        .unwrap_or((Strategy::GreedyBySize, alloc::vec![0; n]));
    let arena_bytes = end(&best);
    let offsets = (0..n).map(|t| best[root[t]] as u32).collect();
    Plan {
        offsets,
        arena_bytes,
        lower_bound,
        strategy,
    }
}

/// Places buffers in `order`, each at the lowest aligned offset where it overlaps no
/// already-placed buffer that is live at the same time.
#[cfg(feature = "alloc")]
fn greedy(order: &[usize], buf: &dyn Fn(usize) -> Buffer, n: usize) -> Vec<usize> {
    let mut offs = alloc::vec![0usize; n];
    let mut placed: Vec<usize> = Vec::new();
    for &t in order {
        let b = buf(t);
        let mut busy: Vec<(usize, usize)> = placed
            .iter()
            .filter(|&&p| buf(p).life.overlaps(&b.life))
            .map(|&p| (offs[p], offs[p] + buf(p).size))
            .collect();
        busy.sort_unstable();
        let mut at = 0;
        for (s, e) in busy {
            if at + b.size <= s {
                break;
            }
            at = at.max(e);
        }
        offs[t] = at;
        placed.push(t);
    }
    offs
}

/// For a chain (no buffer live with more than one other at any op, consecutive in first
/// use), alternates buffers between offset 0 and the top: the arena is then exactly the
/// largest adjacent pair. `None` when the graph is not such a chain.
#[cfg(feature = "alloc")]
fn ping_pong(by_first: &[usize], buf: &dyn Fn(usize) -> Buffer, n: usize) -> Option<Vec<usize>> {
    for (k, &t) in by_first.iter().enumerate() {
        for &u in &by_first[(k + 2).min(by_first.len())..] {
            if buf(t).life.overlaps(&buf(u).life) {
                return None;
            }
        }
    }
    let top = by_first
        .windows(2)
        .map(|w| buf(w[0]).size + buf(w[1]).size)
        .chain(by_first.iter().map(|&t| buf(t).size))
        .max()
        .unwrap_or(0);
    let mut offs = alloc::vec![0usize; n];
    for (k, &t) in by_first.iter().enumerate() {
        offs[t] = if k % 2 == 0 { 0 } else { top - buf(t).size };
    }
    Some(offs)
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::format::{DataRef, Dense, Op, Unary};

    fn dense(i: u16, o: u16) -> Op {
        Op::Dense(Dense {
            input: i,
            output: o,
            relu: false,
            weights: DataRef::default(),
            bias: DataRef::default(),
            requant: DataRef::default(),
        })
    }

    fn check_valid(sizes: &[usize], ops: &[Op], p: &Plan, input: u16, output: u16) {
        let life = lifetimes(sizes.len(), input, output, ops);
        for a in 0..sizes.len() {
            for b in a + 1..sizes.len() {
                let (Some(la), Some(lb)) = (life[a], life[b]) else {
                    continue;
                };
                let alias = ops.iter().any(|op| matches!(op, Op::Flatten(f) if (f.input as usize, f.output as usize) == (a, b) || (f.input as usize, f.output as usize) == (b, a)));
                if alias || !la.overlaps(&lb) {
                    continue;
                }
                let (oa, ob) = (p.offsets[a] as usize, p.offsets[b] as usize);
                assert!(
                    oa + sizes[a] <= ob || ob + sizes[b] <= oa,
                    "{a} and {b} overlap in {p:?}"
                );
            }
            assert!(p.offsets[a] as usize + sizes[a] <= p.arena_bytes);
        }
    }

    #[test]
    fn sequential_chain_is_largest_adjacent_pair() {
        // Sizes where greedy-by-size is not optimal on its own.
        let sizes = [160, 32, 144, 48, 16, 128];
        let ops: Vec<Op> = (0..5).map(|i| dense(i, i + 1)).collect();
        let p = plan(&sizes, 0, 5, &ops, Precision::Int8);
        let pair = sizes.windows(2).map(|w| w[0] + w[1]).max().unwrap();
        assert_eq!(p.arena_bytes, pair);
        assert_eq!(p.lower_bound, pair);
        check_valid(&sizes, &ops, &p, 0, 5);
    }

    #[test]
    fn residual_graph_between_bounds() {
        // 0 -> 1 -> 2, add(1, 2) -> 3, dense 3 -> 4
        let sizes = [64, 256, 256, 256, 32];
        let ops = [
            dense(0, 1),
            dense(1, 2),
            Op::Add(crate::format::Add {
                a: 1,
                b: 2,
                output: 3,
                relu: false,
                quant: Default::default(),
            }),
            dense(3, 4),
        ];
        let p = plan(&sizes, 0, 4, &ops, Precision::Int8);
        check_valid(&sizes, &ops, &p, 0, 4);
        assert!(p.arena_bytes >= p.lower_bound);
        assert!(p.arena_bytes <= sizes.iter().sum());
        assert_eq!(p.lower_bound, 768);
        assert_eq!(p.arena_bytes, 768);
    }

    #[test]
    fn flatten_aliases_its_input() {
        let sizes = [48, 64, 64, 16];
        let ops = [
            dense(0, 1),
            Op::Flatten(Unary {
                input: 1,
                output: 2,
            }),
            dense(2, 3),
        ];
        let p = plan(&sizes, 0, 3, &ops, Precision::Int8);
        assert_eq!(p.offsets[1], p.offsets[2]);
        check_valid(&sizes, &ops, &p, 0, 3);
        assert_eq!(p.arena_bytes, 48 + 64);
    }
}
