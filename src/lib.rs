//! kokoro-pool: the napi binding. JS types in, JS types out; the work happens in `kokoro-engine` and `ja-g2p`.
