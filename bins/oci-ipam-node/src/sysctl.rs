//! Per-link IPv4 sysctls under `/proc/sys/net/ipv4/conf/<link>/`.
//!
//! `/proc/sys/net` shows the network namespace of the thread that opens the file, so these
//! writes land in the same namespace as a [`crate::netlink::Datapath`] opened on that thread.

use std::path::{Path, PathBuf};

use crate::Error;

/// The default root of the sysctl tree.
pub const DEFAULT_SYSCTL_ROOT: &str = "/proc/sys";

/// Reverse-path filtering modes (`rp_filter`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum RpFilter {
    /// 0: no source validation.
    Off,
    /// 1: strict (RFC 3704): the reverse route must use the arrival link.
    Strict,
    /// 2: loose: the source must be routable through any link.
    Loose,
}

impl RpFilter {
    fn value(self) -> &'static str {
        match self {
            Self::Off => "0",
            Self::Strict => "1",
            Self::Loose => "2",
        }
    }
}

/// Makes the link's `rp_filter` loose unless it is already loose or off (both accept
/// traffic arriving on a secondary VNIC). Returns whether the file was written.
///
/// The kernel applies the larger of `conf/all/rp_filter` and the link's value, so loose on
/// the link wins over a strict `all`.
pub fn ensure_rp_filter_loose(root: &Path, link: &str) -> Result<bool, Error> {
    let path = rp_filter_path(root, link)?;

    let current = std::fs::read_to_string(&path).map_err(|source| Error::ReadSysctl {
        path: path.clone(),
        source,
    })?;
    let current = current.trim();
    if current == RpFilter::Loose.value() || current == RpFilter::Off.value() {
        return Ok(false);
    }

    std::fs::write(&path, RpFilter::Loose.value())
        .map_err(|source| Error::WriteSysctl { path, source })?;
    Ok(true)
}

fn rp_filter_path(root: &Path, link: &str) -> Result<PathBuf, Error> {
    if link.is_empty() || link == "." || link == ".." || link.contains('/') {
        return Err(Error::InvalidLinkName {
            link: link.to_owned(),
        });
    }
    Ok(root.join("net/ipv4/conf").join(link).join("rp_filter"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_becomes_loose_loose_and_off_stay() {
        let root =
            std::env::temp_dir().join(format!("oci-ipam-node-sysctl-{}", std::process::id()));
        for (link, before, after, written) in [
            ("eth1", "1\n", "2", true),
            ("eth2", "2\n", "2\n", false),
            ("eth3", "0\n", "0\n", false),
        ] {
            let dir = root.join("net/ipv4/conf").join(link);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("rp_filter"), before).unwrap();

            assert_eq!(
                ensure_rp_filter_loose(&root, link).unwrap(),
                written,
                "{link}"
            );
            assert_eq!(
                std::fs::read_to_string(dir.join("rp_filter")).unwrap(),
                after
            );
        }
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn link_names_cannot_escape_the_tree() {
        for bad in ["", "..", "../all", "a/b"] {
            assert!(matches!(
                ensure_rp_filter_loose(Path::new("/nonexistent"), bad),
                Err(Error::InvalidLinkName { .. })
            ));
        }
    }
}
