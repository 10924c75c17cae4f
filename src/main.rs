//! The one Dezky binary: `dezky operator`, `dezky api`, `dezky dev`, `dezky crds` and the tools beside them.

fn main() {}
