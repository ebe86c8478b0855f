//! The wire-level conformance suite: every case of
//! `shared/conformance/SCENARIOS.md`, run against the conformance server of
//! every adapter over real sockets.
//!
//! Each case is an `async fn(Adapter)` in a module of `cases`; the
//! `suite!` macro expands it into one `#[tokio::test]` per adapter, named
//! `<adapter>::<group>::<case>` (for example `warp::resume::by_header`), so a
//! failure names both and no failure hides another. Every test starts its
//! own server process on port 0. HTTP/2 (h2c) cases run for axum and warp
//! only: actix-web is not required to speak h2c.
//!
//! Run one adapter with `cargo test -p ssekit-conformance --test wire axum::`.

mod cases;
mod support;

/// Expands each group's cases into one test per adapter.
///
/// `every` cases run on all three adapters; `h2c` cases on axum and warp.
/// Each test has an overall time limit, so a server that hangs fails the
/// test instead of the run.
macro_rules! suite {
    (
        $( $group:ident {
            every: [ $($case:ident),* $(,)? ],
            h2c: [ $($h2case:ident),* $(,)? ] $(,)?
        } )*
    ) => {
        suite!(@adapter axum, Axum, h2c; $( $group [$($case),*] [$($h2case),*] )*);
        suite!(@adapter actix, Actix, no_h2c; $( $group [$($case),*] [$($h2case),*] )*);
        suite!(@adapter warp, Warp, h2c; $( $group [$($case),*] [$($h2case),*] )*);
    };
    (@adapter $adapter:ident, $variant:ident, $h2:ident;
        $( $group:ident [$($case:ident),*] [$($h2case:ident),*] )*
    ) => {
        mod $adapter {
            $(
                mod $group {
                    $( suite!(@test $variant, $group, $case); )*
                    suite!(@h2 $h2, $variant, $group, [$($h2case),*]);
                }
            )*
        }
    };
    (@h2 h2c, $variant:ident, $group:ident, [$($h2case:ident),*]) => {
        $( suite!(@test $variant, $group, $h2case); )*
    };
    (@h2 no_h2c, $variant:ident, $group:ident, [$($h2case:ident),*]) => {};
    (@test $variant:ident, $group:ident, $case:ident) => {
        #[tokio::test]
        async fn $case() {
            let limit = crate::cases::TEST_TIME_LIMIT;
            let case = crate::cases::$group::$case(crate::support::Adapter::$variant);
            if tokio::time::timeout(limit, case).await.is_err() {
                panic!("the case did not finish within {limit:?}");
            }
        }
    };
}

suite! {
    headers {
        every: [events, idle, ticks, echo, last_event_id],
        h2c: [events_h2, idle_h2, ticks_h2, echo_h2, last_event_id_h2],
    }
    events {
        every: [
            count_five,
            default_count_is_ten,
            start_offsets_the_ids,
            size_pads_the_data,
            size_of_one_mib_is_accepted,
            close_after_ends_early,
            close_after_counts_from_the_resume_point,
            retry_ms_starts_every_stream,
        ],
        h2c: [count_five_h2],
    }
    resume {
        every: [
            by_header,
            by_query,
            header_wins_over_query,
            non_numeric_counts_as_absent,
            invalid_header_counts_as_absent,
            at_or_past_the_last_id_is_204,
        ],
        h2c: [by_header_h2],
    }
    timing {
        every: [ticks_arrive_one_by_one, events_arrive_one_by_one],
        h2c: [ticks_arrive_one_by_one_h2],
    }
    heartbeat {
        every: [idle_cadence, only_between_events],
        h2c: [idle_cadence_h2],
    }
    echo {
        every: [
            data_line_ends,
            data_text,
            data_large,
            ids,
            event_names,
            retry_and_comments,
        ],
        h2c: [every_short_row_h2],
    }
    refusals {
        every: [id_with_lf, id_with_cr, id_with_nul, event_with_lf, event_with_cr],
        h2c: [id_with_lf_h2],
    }
    params {
        every: [bad_parameters_get_400, limits_are_inclusive],
        h2c: [],
    }
    last_event_id {
        every: [
            without_header,
            id_parameter_sets_the_id,
            raw_utf8_header,
            query_fallback,
            invalid_utf8_header_counts_as_absent,
            invalid_header_falls_back_to_query,
            header_wins_over_query,
        ],
        h2c: [raw_utf8_header_h2],
    }
    status {
        every: [no_content_204, not_found_404],
        h2c: [no_content_204_h2],
    }
    disconnect {
        every: [unknown_token, close_is_noticed_within_a_heartbeat],
        h2c: [connection_close_is_noticed_h2, stream_reset_is_noticed_h2],
    }
    shutdown {
        every: [five_hundred_streams_end_cleanly, sigint_ends_streams_cleanly],
        h2c: [streams_end_cleanly_h2],
    }
    hub {
        every: [
            delivers_to_every_subscriber_of_each_topic,
            resumes_after_the_last_event_id,
            tells_of_a_gap_in_band,
            subscriber_counts_return_to_zero,
            a_slow_consumer_is_bounded_and_loses_nothing,
        ],
        h2c: [],
    }
    redis {
        every: [two_instances_share_topics],
        h2c: [],
    }
}
