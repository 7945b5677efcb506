//! Backend choice at run time: `flex` (CPU, default) or, behind cargo features, CUDA / wgpu.

use burn::tensor::Device;

/// Error for an unknown or not-compiled-in backend.
#[derive(Debug, thiserror::Error)]
#[error("backend `{name}` is not available (available: {available})")]
pub struct BackendError {
    /// The name asked for.
    pub name: String,
    /// The names this build knows.
    pub available: String,
}

/// Names of the backends compiled into this build.
pub fn available() -> Vec<&'static str> {
    let mut v = vec!["flex"];
    if cfg!(feature = "cuda") {
        v.push("cuda");
    }
    if cfg!(feature = "wgpu") {
        v.push("wgpu");
    }
    v
}

/// The plain (inference) device of backend `name`; use `.autodiff()` to train on it.
pub fn device(name: &str) -> Result<Device, BackendError> {
    match name {
        "flex" => Ok(Device::flex()),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(0)),
        #[cfg(feature = "wgpu")]
        "wgpu" => Ok(Device::wgpu(burn::tensor::DeviceKind::default())),
        _ => Err(BackendError {
            name: name.into(),
            available: available().join(", "),
        }),
    }
}
