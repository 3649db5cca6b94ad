//! How inference is spread over the CPU ([`InferenceLayout`]) and the policy that picks it.
//!
//! Policy ([`InferenceLayout::for_cores`]): every core is used (slots × threads = cores), no more
//! slots than tasks run at once (`concurrency`), and at most 8 slots: each run in flight holds its
//! own activations (hundreds of MiB for a long chunk), and 8 concurrent runs on one session were
//! not faster than 2 on the 2-core machine where this was measured (`inference.rs`). Within those
//! bounds, as many slots as possible: on 2 cores, 2 runs of one thread each beat one run of 2
//! threads by ~18% (DESIGN.md). Slots are the largest divisor of the core count within the
//! bounds, so that the threads divide evenly.
//!
//! | cores | concurrency ≥ 8 | concurrency 4 | concurrency 1 |
//! |------:|-----------------|---------------|---------------|
//! | 1     | 1 × 1           | 1 × 1         | 1 × 1         |
//! | 2     | 2 × 1           | 2 × 1         | 1 × 2         |
//! | 4     | 4 × 1           | 4 × 1         | 1 × 4         |
//! | 8     | 8 × 1           | 4 × 2         | 1 × 8         |
//! | 12    | 6 × 2           | 4 × 3         | 1 × 12        |
//! | 16    | 8 × 2           | 4 × 4         | 1 × 16        |
//! | 64    | 8 × 8           | 4 × 16        | 1 × 64        |
//!
//! (slots × threads per slot; `layout::tests::the_policy_uses_every_core` checks this table.)

use crate::error::EngineError;

/// Upper bound for slots and threads: far beyond any machine this runs on, low enough to catch typos.
const MAX_LAYOUT_VALUE: usize = 1024;
/// Most slots the policy chooses; see the module comment.
const MAX_AUTOMATIC_SLOTS: usize = 8;

/// `slots` runs at once, each with `threads_per_slot` intra-op threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InferenceLayout {
    pub slots: usize,
    pub threads_per_slot: usize,
}

impl InferenceLayout {
    /// The policy's layout for this machine with no bound from concurrency.
    pub fn automatic() -> InferenceLayout {
        InferenceLayout::for_cores(available_cores(), usize::MAX, None, None)
    }

    /// The layout for `cores` cores and `concurrency` tasks at once. A given `slots` or
    /// `threads_per_slot` is kept as it is and the other one fills the cores (at least 1).
    pub fn for_cores(
        cores: usize,
        concurrency: usize,
        slots: Option<usize>,
        threads_per_slot: Option<usize>,
    ) -> InferenceLayout {
        let cores = cores.max(1);
        let fill = |used: usize| (cores / used.max(1)).max(1);
        match (slots, threads_per_slot) {
            (Some(slots), Some(threads_per_slot)) => InferenceLayout {
                slots,
                threads_per_slot,
            },
            (Some(slots), None) => InferenceLayout {
                slots,
                threads_per_slot: fill(slots),
            },
            (None, Some(threads_per_slot)) => {
                let slots = fill(threads_per_slot)
                    .min(concurrency)
                    .clamp(1, MAX_AUTOMATIC_SLOTS);
                InferenceLayout {
                    slots,
                    threads_per_slot,
                }
            }
            (None, None) => {
                let most = cores.min(concurrency).clamp(1, MAX_AUTOMATIC_SLOTS);
                let slots = (1..=most)
                    .rev()
                    .find(|&slots| cores.is_multiple_of(slots))
                    .unwrap_or(1);
                InferenceLayout {
                    slots,
                    threads_per_slot: cores / slots,
                }
            }
        }
    }

    pub fn validate(&self) -> Result<(), EngineError> {
        for (name, value) in [
            ("slots", self.slots),
            ("threads per slot", self.threads_per_slot),
        ] {
            if !(1..=MAX_LAYOUT_VALUE).contains(&value) {
                return Err(EngineError::InvalidLayout(format!(
                    "{name} is {value}; use a whole number from 1 to {MAX_LAYOUT_VALUE}"
                )));
            }
        }
        Ok(())
    }
}

/// Cores this process may use (its CPU affinity and cgroup quota included).
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| cores.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(cores: usize, concurrency: usize) -> (usize, usize) {
        let layout = InferenceLayout::for_cores(cores, concurrency, None, None);
        (layout.slots, layout.threads_per_slot)
    }

    #[test]
    fn the_policy_uses_every_core() {
        // cores: (concurrency 1024, concurrency 4, concurrency 1), as in the module comment.
        let table = [
            (1, (1, 1), (1, 1), (1, 1)),
            (2, (2, 1), (2, 1), (1, 2)),
            (4, (4, 1), (4, 1), (1, 4)),
            (8, (8, 1), (4, 2), (1, 8)),
            (12, (6, 2), (4, 3), (1, 12)),
            (16, (8, 2), (4, 4), (1, 16)),
            (64, (8, 8), (4, 16), (1, 64)),
        ];
        for (cores, wide, four, one) in table {
            assert_eq!(chosen(cores, 1024), wide, "{cores} cores, concurrency 1024");
            assert_eq!(chosen(cores, 4), four, "{cores} cores, concurrency 4");
            assert_eq!(chosen(cores, 1), one, "{cores} cores, concurrency 1");
            for concurrency in 1..=1024 {
                let (slots, threads) = chosen(cores, concurrency);
                assert_eq!(
                    slots * threads,
                    cores,
                    "{cores} cores, concurrency {concurrency}"
                );
                assert!(slots <= concurrency.min(MAX_AUTOMATIC_SLOTS));
            }
        }
    }

    #[test]
    fn a_given_slot_or_thread_count_is_kept_and_the_other_fills_the_cores() {
        let layout = |slots, threads| InferenceLayout::for_cores(12, 8, slots, threads);
        assert_eq!(
            layout(Some(3), None),
            InferenceLayout {
                slots: 3,
                threads_per_slot: 4
            }
        );
        assert_eq!(
            layout(Some(5), None),
            InferenceLayout {
                slots: 5,
                threads_per_slot: 2
            }
        );
        assert_eq!(
            layout(None, Some(4)),
            InferenceLayout {
                slots: 3,
                threads_per_slot: 4
            }
        );
        assert_eq!(
            layout(None, Some(1)),
            InferenceLayout {
                slots: 8,
                threads_per_slot: 1
            }
        );
        assert_eq!(
            layout(Some(2), Some(2)),
            InferenceLayout {
                slots: 2,
                threads_per_slot: 2
            }
        );
        assert_eq!(layout(Some(24), None).threads_per_slot, 1);
    }

    #[test]
    fn layout_validation_names_the_bad_value() {
        assert!(InferenceLayout::automatic().validate().is_ok());
        let message = InferenceLayout {
            slots: 0,
            threads_per_slot: 1,
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(message.contains("slots is 0"), "{message}");
        let message = InferenceLayout {
            slots: 1,
            threads_per_slot: 5000,
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(message.contains("threads per slot is 5000"), "{message}");
    }
}
