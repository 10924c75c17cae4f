//! The system-test harness shared by the operator's tests (it lives in the library as
//! `dezky_operator::runtime::testing`, feature `testing`, so every test file can use part of it).

pub use dezky_operator::runtime::testing::*;
