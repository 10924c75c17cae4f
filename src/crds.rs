//! `dezky crds`: the generated CustomResourceDefinitions, printed or written to files.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// Prints all CRDs as one multi-document YAML stream, or writes one file per CRD into `output_dir`.
pub fn run(output_dir: Option<&Path>) -> anyhow::Result<()> {
    let crds = dezky_crds::crds();
    match output_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("failed to create {}", dir.display()))?;
            for crd in &crds {
                let path = dir.join(dezky_crds::crd_file_name(crd));
                std::fs::write(&path, dezky_crds::crd_yaml(crd))
                    .with_context(|| format!("failed to write {}", path.display()))?;
                println!("wrote {}", path.display());
            }
        }
        None => {
            let mut out = std::io::stdout().lock();
            for crd in &crds {
                writeln!(out, "---\n{}", dezky_crds::crd_yaml(crd).trim_end())?;
            }
        }
    }
    Ok(())
}
