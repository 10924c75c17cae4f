//! `dezky dev`: the whole platform on one machine. It starts what exists and says plainly what does not yet.

use std::path::PathBuf;

use clap::Args;

/// Flags of `dezky dev`.
#[derive(Args, Debug)]
pub struct DevArgs {
    /// Where devcluster's SQLite file, the kubeconfig and dev.json live; a restart keeps the state.
    #[arg(long, default_value = ".dezky")]
    pub state_dir: PathBuf,
    /// Listen on free ports instead of the defaults.
    #[arg(long)]
    pub random_ports: bool,
    /// Manifests applied once the platform is up.
    #[arg(long, default_value = "examples")]
    pub apply: PathBuf,
}

/// The parts of the platform and whether this build has them.
const PARTS: &[(&str, bool)] = &[
    ("devcluster (embedded Kubernetes API)", false),
    ("simulators (Authentik, Stalwart, OCIS, DNS)", false),
    ("operator (five controllers)", false),
    ("api-server and web UI", false),
];

pub fn run(args: DevArgs) -> anyhow::Result<()> {
    println!(
        "dezky dev: state in {}, manifests from {}",
        args.state_dir.display(),
        args.apply.display()
    );
    let missing: Vec<&str> = PARTS
        .iter()
        .filter(|(_, built)| !built)
        .map(|(name, _)| *name)
        .collect();
    for (name, built) in PARTS {
        println!("  {} {name}", if *built { "ok     " } else { "missing" });
    }
    if !missing.is_empty() {
        anyhow::bail!(
            "this build cannot start the platform yet: {} not built. `dezky crds` prints the resource definitions.",
            missing.join(", ")
        );
    }
    Ok(())
}
