//! Cost model and memory planner on the seed CIFAR-10 net, checked against hand counts.

mod common;

use common::{SEED_C10, seed_blob, seed_net};
use whittle_shared::encode::AlignedBytes;
use whittle_shared::format::Precision;
use whittle_shared::{Model, cost, plan};

#[test]
fn seed_c10_params_and_macs_match_hand_count() {
    let a = AlignedBytes::new(&seed_blob(Precision::Int8));
    let m = Model::from_bytes(&a).expect("valid");
    let t = cost::totals(&m).expect("totals");
    // params: conv1 3·16·9+16 = 448, conv2 16·24·9+24 = 3480, conv3 24·32·9+32 = 6944,
    // conv4 32·32·9+32 = 9248, dense1 (32·8·8=2048)·48+48 = 98352, dense2 48·10+10 = 490
    assert_eq!(t.params, 448 + 3480 + 6944 + 9248 + 98352 + 490);
    assert_eq!(t.params, 118_962);
    // MACs: conv1 32·32·16·27 = 442368, conv2 32·32·24·144 = 3538944,
    // conv3 16·16·32·216 = 1769472, conv4 16·16·32·288 = 2359296, dense1 98304, dense2 480
    assert_eq!(
        t.macs,
        442_368 + 3_538_944 + 1_769_472 + 2_359_296 + 98_304 + 480
    );
    assert_eq!(t.macs, 8_208_864);
    // int8 weight bytes: 118800 i8 weights + 162 biases · 4 bytes + 162 multipliers · 8 bytes
    assert_eq!(t.weight_bytes, 118_800 + 162 * 4 + 162 * 8);
    // f32: same params and MACs, 4-byte weights, no multipliers
    let a = AlignedBytes::new(&seed_blob(Precision::F32));
    let f = cost::totals(&Model::from_bytes(&a).expect("valid")).expect("totals");
    assert_eq!((f.params, f.macs), (t.params, t.macs));
    assert_eq!(f.weight_bytes, 118_962 * 4);
}

#[test]
fn half_width_seed_net_costs() {
    let (b, y) = seed_net(Precision::Int8, [8, 12, 16, 16, 24], 1);
    let a = AlignedBytes::new(&b.finish(y).expect("encodes"));
    let t = cost::totals(&Model::from_bytes(&a).expect("valid")).expect("totals");
    // 224 + 876 + 1744 + 2320 + (16·64·24+24 = 24600) + 250
    assert_eq!(t.params, 30_014);
    // 221184 + 884736 + 442368 + 589824 + 24576 + 240
    assert_eq!(t.macs, 2_162_928);
}

#[test]
fn sequential_plan_is_largest_adjacent_pair_plus_scratch() {
    let (b, y) = seed_net(Precision::Int8, SEED_C10, 7);
    let p = b.plan(y);
    // The largest adjacent pair: conv1 out (16·32·32) + conv2 out (24·32·32).
    assert_eq!(p.arena_bytes, 16 * 1024 + 24 * 1024);
    assert_eq!(p.lower_bound, p.arena_bytes);
    let a = AlignedBytes::new(&b.finish(y).expect("encodes"));
    let m = Model::from_bytes(&a).expect("valid");
    let t = cost::totals(&m).expect("totals");
    assert_eq!(t.arena_bytes, 40_960);
    assert_eq!(t.peak_ram_bytes, 40_960 + t.scratch_bytes);
    // peak is at least the largest live set and at most the sum of all tensors
    let sum: usize = m
        .tensors()
        .map(|t| t.expect("t").bytes(Precision::Int8))
        .sum();
    assert!(t.arena_bytes as usize <= sum);
    assert!(t.arena_bytes as usize >= plan::align_up(16 * 1024) + plan::align_up(24 * 1024));
}
