//! The `every_adapter!` macro of the hostile-client and fault suites: each
//! case, an `async fn(Adapter)` at the suite's root, as one test per adapter
//! with its own time limit.

/// Expands each case into one `#[tokio::test]` per adapter (the `h2c`
/// ones on axum and warp only), with a time limit in seconds.
macro_rules! every_adapter {
    (every: [$($case:ident: $limit:expr),* $(,)?], h2c: [$($h2case:ident: $h2limit:expr),* $(,)?] $(,)?) => {
        every_adapter!(@adapter axum, Axum; $($case: $limit,)* $($h2case: $h2limit,)*);
        every_adapter!(@adapter actix, Actix; $($case: $limit,)*);
        every_adapter!(@adapter warp, Warp; $($case: $limit,)* $($h2case: $h2limit,)*);
    };
    (@adapter $adapter:ident, $variant:ident; $($case:ident: $limit:expr,)*) => {
        mod $adapter {
            $(
                #[tokio::test]
                async fn $case() {
                    let limit = std::time::Duration::from_secs($limit);
                    let case = crate::$case(crate::support::Adapter::$variant);
                    if tokio::time::timeout(limit, case).await.is_err() {
                        panic!("the case did not finish within {limit:?}");
                    }
                }
            )*
        }
    };
}
