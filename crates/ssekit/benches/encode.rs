//! The encoder benchmark, compared with axum and warp: coming in the next commit.

fn main() {}
