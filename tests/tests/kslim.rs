//! A firmware carries only the kernel variants its blob runs: the variant set of a blob, the
//! code the seed net's firmware takes, and the builder's code estimate against real builds.

use whittle::firmware::builder;
use whittle::firmware::{Machine, RunOptions, RunReport};
use whittle::synth::{self, Arch};
use whittle_shared::encode::AlignedBytes;
use whittle_shared::exec;
use whittle_shared::kernels::select::{Kernel, KernelSet};
use whittle_shared::{Error, Model};
use whittle_tests::{images, require_tools};

const SEED: u64 = 42;

fn blob(arch: Arch) -> Vec<u8> {
    synth::build_arch(arch, 1.0, SEED).expect("synthetic blob")
}

fn band(groups: u8, relu: bool) -> Kernel {
    Kernel::ConvBand {
        groups,
        relu,
        stride2: false,
    }
}

#[test]
fn the_seed_net_needs_exactly_its_band_dense_and_pool_variants() {
    let b = blob(Arch::SeedC10);
    let aligned = AlignedBytes::new(&b);
    let m = Model::from_bytes(&aligned).expect("valid blob");
    let want = [
        Kernel::Dense,
        Kernel::MaxPool,
        // 3 input channels (padded to one group), then 16, 24 and 32.
        band(1, true),
        band(4, true),
        band(6, true),
        band(8, true),
    ];
    let set = exec::needed(&m).expect("plan");
    assert_eq!(set.iter().collect::<Vec<_>>(), want);
    // The plan the executor runs: one step per op (no fusion), the flatten without a kernel.
    let steps: Vec<_> = exec::plan_s8(&m).map(|s| s.expect("step")).collect();
    assert_eq!(steps.len(), m.n_ops() as usize);
    let kernels: Vec<_> = steps.iter().map(|s| s.kernel).collect();
    assert_eq!(
        kernels,
        [
            Some(band(1, true)),
            Some(band(4, true)),
            Some(Kernel::MaxPool),
            Some(band(6, true)),
            Some(band(8, true)),
            Some(Kernel::MaxPool),
            None,
            Some(Kernel::Dense),
            Some(Kernel::Dense),
        ]
    );
}

#[test]
fn resnet8_needs_the_fused_add_and_a_build_without_it_refuses_by_name() {
    let b = blob(Arch::Resnet8);
    let aligned = AlignedBytes::new(&b);
    let m = Model::from_bytes(&aligned).expect("valid blob");
    let set = exec::needed(&m).expect("plan");
    // Every residual add fused into its conv on the band path (the stride-2 band variant
    // included), none in chunks.
    assert!(set.contains(Kernel::ConvAddBand), "{set:?}");
    assert!(!set.contains(Kernel::ConvAdd), "{set:?}");
    // Its 1×1 stride-2 shortcuts (unfused here: they run first) on the direct path, so
    // no conv needs im2col.
    assert!(set.contains(Kernel::ConvPointwise), "{set:?}");
    assert!(!set.contains(Kernel::ConvIm2col), "{set:?}");
    assert!(!set.contains(Kernel::ConvAddPointwise), "{set:?}");
    assert!(
        set.contains(Kernel::ConvBand {
            groups: 4,
            relu: true,
            stride2: true
        }),
        "{set:?}"
    );
    eprintln!(
        "ResNet-8 variants: {:?}",
        set.iter().map(Kernel::name).collect::<Vec<_>>()
    );
    // A build with the seed net's variants only: the first conv it lacks is refused, with
    // the layer and the variant in the message.
    const SEED_SET: u128 = KernelSet::EMPTY
        .with(Kernel::Dense)
        .with(Kernel::MaxPool)
        .with(Kernel::ConvBand {
            groups: 1,
            relu: true,
            stride2: false,
        })
        .0;
    let mut ram = AlignedBytes::zeroed(m.ram_bytes());
    let x = vec![0i8; m.input().expect("input").shape.len()];
    let first = exec::plan_s8(&m)
        .map(|s| s.expect("step"))
        .find(|s| {
            [s.kernel, s.conv]
                .into_iter()
                .flatten()
                .any(|k| !KernelSet(SEED_SET).contains(k))
        })
        .expect("a variant the seed set lacks");
    let err = exec::run_s8_in::<SEED_SET>(&m, &x, &mut ram, &mut |_, _, _| {})
        .expect_err("variants missing");
    let Error::KernelNotBuilt { op, kernel } = err else {
        panic!("{err:?}");
    };
    assert_eq!(op, first.index);
    let name = Kernel::from_index(kernel).expect("a variant").name();
    assert_eq!(
        err.to_string(),
        format!(
            "layer {op}: needs kernel {name}, which this firmware was built without (it was built for another blob; rebuild it for this one)"
        )
    );
    // With every variant it runs, and so it does with exactly its own set.
    assert!(exec::run_s8(&m, &x, &mut ram).is_ok());
}

fn run(b: &[u8], n: usize, opt_size: bool) -> RunReport {
    let mut opts = RunOptions::new(Machine::Mps2An386);
    opts.opt_size = opt_size;
    whittle::firmware::run(b, &images(b, n), &opts).unwrap_or_else(|e| panic!("whittle run: {e}"))
}

/// Code and constants of a run's firmware: flash less the blob (the images are already out).
fn code(r: &RunReport) -> u64 {
    r.flash_bytes - r.blob_bytes
}

#[test]
fn the_code_estimate_bounds_the_seed_and_resnet8_builds() {
    require_tools();
    for arch in [Arch::SeedC10, Arch::Resnet8] {
        let b = blob(arch);
        let r = run(&b, 2, false);
        assert!(r.host_matches, "{arch:?}: firmware == host");
        let aligned = AlignedBytes::new(&b);
        let m = Model::from_bytes(&aligned).expect("valid blob");
        let estimate = builder::blob_code_estimate(Some(&m));
        let code = code(&r);
        eprintln!("{arch:?}: code + constants {code} B, estimated {estimate} B");
        assert!(
            estimate >= code && estimate - code <= 3 * 1024,
            "{arch:?}: estimate {estimate} B against {code} B built"
        );
    }
}

#[test]
fn the_seed_net_takes_at_most_20_kb_of_code_and_less_built_for_size() {
    require_tools();
    let b = blob(Arch::SeedC10);
    let r = run(&b, 2, false);
    assert!(r.host_matches, "firmware == host");
    let code = code(&r);
    let small = run(&b, 2, true);
    assert!(small.host_matches, "--opt-size firmware == host");
    let small = self::code(&small);
    eprintln!("seed net: code + constants {code} B, --opt-size {small} B");
    assert!(code <= 20_000, "{code} B of code and constants");
    assert!(small < code, "--opt-size {small} B against {code} B");
}
