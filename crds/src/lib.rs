//! The Dezky resource types, group `dezky.io`, version `v1alpha1`.
