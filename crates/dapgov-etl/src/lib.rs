pub mod pii;
